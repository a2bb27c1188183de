"""Reading settings: every threshold the pipeline uses, validated, with its default here only."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodeSettings(_Settings):
    max_pixels: int = Field(default=60_000_000, gt=0)  # refuse larger images before decoding
    max_bytes: int = Field(default=40_000_000, gt=0)
    target_long_side: int = Field(default=2000, ge=800)  # reduced JPEG decode aims at this


class LocateSettings(_Settings):
    canonical_width: int = Field(default=1240, ge=600)  # px of the canonical page's width
    min_page_fraction: float = Field(default=0.12, gt=0, lt=1)  # page area / photo area


class QualitySettings(_Settings):
    min_page_width_px: int = Field(default=700, gt=0)  # page width in the decoded photo
    min_sharpness: float = Field(default=0.30, ge=0)  # see ocr/quality.py
    max_glare_fraction: float = Field(default=0.02, ge=0, le=1)  # saturated share of box area


class DecisionSettings(_Settings):
    """Filled in by ocr/verdict.py's owner: thresholds that turn probabilities into statuses."""

    field_ok_confidence: float = Field(default=0.995, gt=0, le=1)
    top_k_per_box: int = Field(default=4, ge=1, le=12)
    top_k_per_field: int = Field(default=12, ge=1)


class ReadSettings(_Settings):
    decode: DecodeSettings = DecodeSettings()
    locate: LocateSettings = LocateSettings()
    quality: QualitySettings = QualitySettings()
    decision: DecisionSettings = DecisionSettings()
