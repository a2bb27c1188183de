"""Reading settings: every threshold the pipeline uses, validated, with its default here only."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodeSettings(_Settings):
    max_pixels: int = Field(default=60_000_000, gt=0)  # refuse larger images before decoding
    max_bytes: int = Field(default=40_000_000, gt=0)
    target_long_side: int = Field(default=2000, ge=800)  # reduced JPEG decode aims at this


class LocateSettings(_Settings):
    canonical_width: int = Field(default=1240, ge=600)  # px of the canonical page's width
    min_page_fraction: float = Field(default=0.04, gt=0, lt=1)  # page area / photo area
    # corner-mark forms with neither QR nor title readable (last resort): high-passed similarity
    # to the blank form, and its lead over another turn (else the photo is rejected)
    min_form_similarity: float = Field(default=0.1, ge=-1, le=1)
    min_orientation_margin: float = Field(default=0.05, ge=0, le=2)
    # corner-mark frames whose QR payload was not read: the printed number boxes must lie on the
    # warped page (ocr/boxes.py print_agreement; own samples: right >= 0.16 even blurred, the
    # page moved by 3 % <= 0.05)
    min_print_agreement: float = Field(default=0.12, ge=-1, le=1)
    # ArUco: search the full-size photo when its reduced copy shows no marker at all (small
    # markers); identifying a form that may be another turns it off for a first, cheap look
    aruco_blind_search: bool = True
    # corner-mark forms whose marks give no frame (curl, steep angle, a busy background): the
    # photo registered to the rendered blank form by features, kept only when its QR code reads
    blank_features: bool = True


class QualitySettings(_Settings):
    min_page_width_px: int = Field(default=450, gt=0)  # page width, px of the photo as read
    min_sharpness: float = Field(default=0.17, ge=0)  # see ocr/quality.py; reads fine above
    max_glare_fraction: float = Field(default=0.02, ge=0, le=1)  # saturated share of box area


class DecisionSettings(_Settings):
    """Thresholds that turn probabilities into statuses (see ocr/joint.py for the model)."""

    # a field is ok when the posterior that its value is right (every box's calibrated
    # probabilities, the form's rules, the slip prior) is at least 1 - trust_risk; a field in
    # no equality check has only its own boxes to go on. SIPANTAU_TRUST_RISK sets it.
    trust_risk: float = Field(default=1e-4, gt=0, lt=0.5)
    tick_ok_confidence: float = Field(default=0.999, gt=0, le=1)
    top_k_per_box: int = Field(default=4, ge=1, le=12)  # only for fields of more than 4 boxes
    top_k_per_field: int = Field(default=120, ge=1)  # values searched a field; the rest bounded
    # prior that a component of the officer's form is inconsistent as written (an arithmetic
    # slip on paper): the explicit prior the trust rule weighs a machine correction against
    slip_prior: float = Field(default=0.01, gt=0, lt=1)
    # values a slipped field plausibly takes (one of 3 digits off: 3 x 9)
    slip_values: int = Field(default=27, ge=1)
    prune_ratio: float = Field(default=1e-9, ge=0, lt=1)  # skip branches this far below the best
    min_mass: float = Field(default=1e-15, ge=0)  # and branches lighter than this outright
    max_nodes: int = Field(default=100_000, ge=100)  # hard search budget per form
    n_solutions: int = Field(default=8, ge=1)  # consistent solutions kept per component
    suggest_min_confidence: float = Field(default=0.5, ge=0, le=1)  # show a suggestion above this


class ReadSettings(_Settings):
    decode: DecodeSettings = DecodeSettings()
    locate: LocateSettings = LocateSettings()
    quality: QualitySettings = QualitySettings()
    decision: DecisionSettings = DecisionSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReadSettings:
        """Defaults, with the trust rule's knobs from SIPANTAU_TRUST_RISK / SIPANTAU_SLIP_PRIOR."""
        env = os.environ if environ is None else environ
        decision: dict[str, float] = {}
        for key, name in (
            ("SIPANTAU_TRUST_RISK", "trust_risk"),
            ("SIPANTAU_SLIP_PRIOR", "slip_prior"),
        ):
            if env.get(key):
                try:
                    decision[name] = float(env[key])
                except ValueError:
                    raise ValueError(f"{key} must be a number, got {env[key]!r}") from None
        return cls(decision=DecisionSettings.model_validate(decision))
