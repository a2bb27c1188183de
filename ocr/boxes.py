"""Boxes stage: cut each field's boxes from the canonical page, snapped to the printed box lines."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sipantau.ocr.types import Box, GrayImage, Page
from sipantau.templates.model import FieldSpec, Template

CROP_MARGIN = 0.15  # of the box's larger side, on every side (the digit model expects this)
SEARCH_PX = 8  # how far a field's boxes may be off after the page homography


@dataclass(frozen=True)
class FieldCrops:
    name: str
    boxes: list[Box]  # refined, canonical page pixels
    crops: list[GrayImage]
    shift: tuple[int, int]  # refinement applied, px


def to_px(rect: list[float], scale: float) -> Box:
    x, y, w, h = rect
    return (
        int(round(x * scale)),
        int(round(y * scale)),
        int(round(w * scale)),
        int(round(h * scale)),
    )


def _outline(boxes: list[Box], origin: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), np.float32)
    ox, oy = origin
    for x, y, w, h in boxes:
        cv2.rectangle(mask, (x - ox, y - oy), (x - ox + w, y - oy + h), 1.0, 2)
    return mask


def _outline_match(
    image: GrayImage, boxes: list[Box], search: int
) -> tuple[float, tuple[int, int]] | None:
    """Best NCC of one field's printed box outlines over the dark pixels within `search` px,
    and the shift it lies at; None where the search window leaves the page."""
    x0 = min(b[0] for b in boxes) - 2
    y0 = min(b[1] for b in boxes) - 2
    x1 = max(b[0] + b[2] for b in boxes) + 3
    y1 = max(b[1] + b[3] for b in boxes) + 3
    H, W = image.shape
    if x0 - search < 0 or y0 - search < 0 or x1 + search > W or y1 + search > H:
        return None
    region = 255.0 - image[y0 - search : y1 + search, x0 - search : x1 + search].astype(np.float32)
    templ = _outline(boxes, (x0, y0), (x1 - x0, y1 - y0))
    score = cv2.matchTemplate(region, templ, cv2.TM_CCOEFF_NORMED)
    _, best, _, loc = cv2.minMaxLoc(score)
    return float(best), (loc[0] - search, loc[1] - search)


def refine_shift(image: GrayImage, boxes: list[Box], search: int = SEARCH_PX) -> tuple[int, int]:
    """The (dx, dy) that best lays the printed box outlines of one field over the dark pixels."""
    match = _outline_match(image, boxes, search)
    if match is None or match[0] < 0.15:  # no outline to be seen: keep the homography's estimate
        return 0, 0
    return match[1]


def print_agreement(page: Page, template: Template) -> float:
    """How well the printed number boxes lie on the warped page: the lower quartile, over the
    fields, of their outline match (a field off the page scores 0). A wrong warp scores low."""
    scores = []
    for spec in template.fields:
        match = _outline_match(page.image, [to_px(b, page.scale) for b in spec.boxes], SEARCH_PX)
        scores.append(0.0 if match is None else match[0])
    return float(np.percentile(scores, 25)) if scores else 0.0


def crop_box(image: GrayImage, box: Box, margin: float = CROP_MARGIN) -> GrayImage:
    """The box and a margin around it; pads with paper white where it leaves the page."""
    x, y, w, h = box
    m = int(round(margin * max(w, h)))
    return cv2.getRectSubPix(image, (w + 2 * m, h + 2 * m), (x + w / 2.0, y + h / 2.0))


def cut_field(page: Page, spec: FieldSpec) -> FieldCrops:
    boxes = [to_px(b, page.scale) for b in spec.boxes]
    dx, dy = refine_shift(page.image, boxes)
    moved = [(x + dx, y + dy, w, h) for x, y, w, h in boxes]
    return FieldCrops(spec.name, moved, [crop_box(page.image, b) for b in moved], (dx, dy))


def cut_boxes(page: Page, template: Template) -> dict[str, FieldCrops]:
    """Every field's box crops, in template order."""
    return {f.name: cut_field(page, f) for f in template.fields}
