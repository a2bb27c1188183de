"""Last-resort orientation of a corner-mark page: similarity of its print to the blank form, by
a clear margin only (handwriting and X marks pull the turns together; then it is a rejection)."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Homography
from sipantau.templates.model import Template

THUMB_W = 124  # px: the blank form's width when orientations are compared
_THUMBS: dict[str, np.ndarray] = {}


def _thumbnail(template: Template) -> np.ndarray:
    """The blank form at thumbnail size, cached per template id."""
    if template.id not in _THUMBS:
        from sipantau.templates.render import render  # only needed for this last resort

        dpi = THUMB_W / template.page.width * 25.4 if template.page.unit == "mm" else 25.4
        img = render(template, dpi=dpi).image
        thumb = cv2.resize(
            cv2.cvtColor(img, cv2.COLOR_BGR2GRAY),
            (THUMB_W, int(round(THUMB_W * template.page.height / template.page.width))),
            interpolation=cv2.INTER_AREA,
        )
        _THUMBS[template.id] = high_pass(thumb)
    return _THUMBS[template.id]


def high_pass(img: np.ndarray) -> np.ndarray:
    """Print structure without the light falling across the page."""
    f = cv2.GaussianBlur(img.astype(np.float32), (3, 3), 0)
    return f - cv2.GaussianBlur(f, (0, 0), 6)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))


def similarities(photo: GrayImage, template: Template, Hs: list[Homography]) -> list[float]:
    """Each turn's high-passed similarity to the blank form (-1 for a degenerate one)."""
    thumb = _thumbnail(template)
    th, tw = thumb.shape
    k = tw / template.page.width
    K = np.diag([k, k, 1.0])
    scores = []
    for H in Hs:
        if not np.isfinite(H).all():
            scores.append(-1.0)
            continue
        warped = cv2.warpPerspective(photo, K @ H, (tw, th), flags=cv2.INTER_AREA, borderValue=255)
        scores.append(_ncc(high_pass(warped), thumb))
    return scores


def by_similarity(
    scores: list[float], Hs: list[Homography], settings: LocateSettings
) -> tuple[Homography, str, None] | str:
    """The turn that looks most like the blank form, when clearly so; else why not."""
    order = np.argsort(scores)[::-1]
    best, second = scores[order[0]], scores[order[1]]
    if best < settings.min_form_similarity or best - second < settings.min_orientation_margin:
        return f"no QR, no title; similarity {best:.3f}, runner-up {second:.3f}"
    return Hs[int(order[0])], "similarity", None
