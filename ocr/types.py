"""Array aliases and the typed results every stage passes along."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

GrayImage = npt.NDArray[np.uint8]  # H x W, uint8
ColorImage = npt.NDArray[np.uint8]  # H x W x 3, BGR uint8
Quad = npt.NDArray[np.float32]  # 4 x 2 corner points, clockwise from top-left
Homography = npt.NDArray[np.float64]  # 3 x 3
Box = tuple[int, int, int, int]  # x, y, w, h in canonical page pixels

# Classes of one digit box, in the order of the digit model's outputs.
CLASSES: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "")
X_CLASS = 10
BLANK_CLASS = 11
N_CLASSES = len(CLASSES)

Status = Literal["ok", "review", "rejected"]


@dataclass(frozen=True)
class Reason:
    """Why a form is rejected or needs a person: a stable code for machines, a message (Bahasa
    Indonesia) for people."""

    code: str
    message: str

    def export(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def of(cls, stored: str | Mapping[str, object]) -> Reason:
        """A reason as stored: an exported object, or (readings stored before reasons were typed)
        one `code: message` string, split once here."""
        if not isinstance(stored, str):
            return cls(str(stored.get("code", "")), str(stored.get("message", "")))
        code, sep, text = stored.partition(": ")
        if sep and code.replace("_", "").isalnum() and code.islower():
            return cls(code, text)
        return cls(REVIEW, stored)


REVIEW = "needs_review"  # the code of a form-level reason that names no more precise cause


@dataclass(frozen=True)
class Page:
    """A photo warped onto its template's canonical page, with how it was found."""

    image: GrayImage  # canonical page, template units * scale
    scale: float  # canonical pixels per template unit
    homography: Homography  # photo (decoded size) -> canonical page
    method: str  # which locator found it
    photo_quad: Quad  # page corners in the decoded photo
    identity: str | None = None  # QR payload, when one was read
    # each field's number boxes as found on this print, where they are not the template's
    boxes: dict[str, list[Box]] | None = None

    def boxes_found(self, field: str) -> list[Box] | None:
        """The field's boxes (canonical px) as found on this print; None: the template's."""
        return self.boxes.get(field) if self.boxes else None


@dataclass(frozen=True)
class BoxReading:
    """One box: class probabilities and its geometry on the canonical page."""

    box: Box
    probs: npt.NDArray[np.float64]  # N_CLASSES, sums to 1

    @property
    def label(self) -> str:
        return CLASSES[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


@dataclass
class FieldReading:
    """A field's value as read, how sure we are, and why it may need a person."""

    name: str
    value: int | None
    confidence: float
    status: Literal["ok", "review"]
    reasons: list[str] = field(default_factory=list)
    suggestion: int | None = None
    kind: Literal["digits", "tick"] = "digits"
    boxes: list[BoxReading] = field(default_factory=list)
    # the plain reading (argmax per box) when the joint decoder changed the value; else None
    read_value: int | None = None
    corrected: bool = False  # True when `value` is the decoder's, not the plain reading

    def export(self, geometry: bool = False) -> dict[str, object]:
        """The field as `sipantau read` prints it; with `geometry`, also its kind and its box
        on the aligned page (what the service stores, for the review screen's crops)."""
        out: dict[str, object] = {
            "value": self.value,
            "confidence": round(float(self.confidence), 6),
            "status": self.status,
            "reasons": list(self.reasons),
            "suggestion": self.suggestion,
            "corrected": self.corrected,
            "read_value": self.read_value,
        }
        if geometry:
            out["kind"] = self.kind
            if self.boxes:
                out["box"] = list(_union(b.box for b in self.boxes))
        return out


def _union(boxes: Iterable[Box]) -> Box:
    """The smallest box around `boxes`."""
    x0, y0, x1, y1 = zip(*((x, y, x + w, y + h) for x, y, w, h in boxes), strict=True)
    return int(min(x0)), int(min(y0)), int(max(x1) - min(x0)), int(max(y1) - min(y0))


@dataclass
class FormReading:
    """The whole reading of one photo, as `sipantau read` prints it."""

    photo: str
    template: str | None
    status: Status
    reasons: list[Reason] = field(default_factory=list)
    fields: dict[str, FieldReading] = field(default_factory=dict)
    ms: float = 0.0
    tps: str | None = None
    page: Page | None = None

    def export(self, geometry: bool = False) -> dict[str, object]:
        """The one export of a reading: `sipantau read`'s line, the worker's stored reading."""
        out: dict[str, object] = {
            "photo": self.photo,
            "template": self.template,
            "status": self.status,
            "reasons": [r.export() for r in self.reasons],
            "fields": {name: f.export(geometry) for name, f in self.fields.items()},
            "ms": round(self.ms, 1),
        }
        if self.tps is not None:
            out["tps"] = self.tps
        return out
