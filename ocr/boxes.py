"""Boxes stage: cut each field's boxes from the canonical page, snapped to the printed box lines."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sipantau.ocr.types import Box, GrayImage, Page
from sipantau.templates.model import FieldSpec, Template

CROP_MARGIN = 0.15  # of the box's larger side, on every side (the digit model expects this)
SEARCH_PX = 8  # how far the boxes may be off after a right homography (print_agreement)
SNAP_PX = 24  # how far a field may be off where the paper curls or folds
SNAP_OF_BOX = 0.4  # and at most this share of its smallest box side (next box: a fit too)
FINE_PX = 2  # the coarse half-size match is this uncertain at full size
WIDE_GAIN = 1.25  # a far shift must score this many times the near one


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


def _best(region: np.ndarray, templ: np.ndarray) -> tuple[float, tuple[int, int]]:
    score = cv2.matchTemplate(region, templ, cv2.TM_CCOEFF_NORMED)
    _, best, _, loc = cv2.minMaxLoc(score)
    return float(best), (int(loc[0]), int(loc[1]))


def _outline_match(
    image: GrayImage, boxes: list[Box], search: int
) -> tuple[float, tuple[int, int]] | None:
    """Best NCC of one field's printed box outlines over the dark pixels within `search` px,
    and the shift it lies at; None where the search window leaves the page. A wide search runs
    at half size first, then near that at full size."""
    x0 = min(b[0] for b in boxes) - 2
    y0 = min(b[1] for b in boxes) - 2
    x1 = max(b[0] + b[2] for b in boxes) + 3
    y1 = max(b[1] + b[3] for b in boxes) + 3
    H, W = image.shape
    if x0 - search < 0 or y0 - search < 0 or x1 + search > W or y1 + search > H:
        return None
    region = 255.0 - image[y0 - search : y1 + search, x0 - search : x1 + search].astype(np.float32)
    templ = _outline(boxes, (x0, y0), (x1 - x0, y1 - y0))
    if search <= SEARCH_PX:  # near: every shift at full size (cheap)
        best, (jx, iy) = _best(region, templ)
        return best, (jx - search, iy - search)
    half = [
        cv2.resize(a, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for a in (region, templ)
    ]
    _, (cj, ci) = _best(*half)
    th, tw = templ.shape
    j0, i0 = max(2 * cj - FINE_PX, 0), max(2 * ci - FINE_PX, 0)
    j1, i1 = min(2 * cj + FINE_PX, 2 * search), min(2 * ci + FINE_PX, 2 * search)
    best, (dj, di) = _best(region[i0 : i1 + th, j0 : j1 + tw], templ)
    return best, (j0 + dj - search, i0 + di - search)


def refine_shift(image: GrayImage, boxes: list[Box], search: int = SEARCH_PX) -> tuple[int, int]:
    """The (dx, dy) that best lays the printed box outlines of one field over the dark pixels."""
    near = _outline_match(image, boxes, min(search, SEARCH_PX))
    match = near
    if search > SEARCH_PX:
        wide = _outline_match(image, boxes, search)
        # a far shift must be clearly better: a table line and heavy ink can mimic an outline
        if wide is not None and (near is None or wide[0] >= WIDE_GAIN * near[0]):
            match = wide
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


def snap_px(boxes: list[Box]) -> int:
    """How far a field of printed boxes is searched: SNAP_PX, less where its boxes are small."""
    return max(SEARCH_PX, min(SNAP_PX, int(SNAP_OF_BOX * min(min(w, h) for *_, w, h in boxes))))


def cut_field(page: Page, spec: FieldSpec, wide: bool = False) -> FieldCrops:
    found = page.boxes_found(spec.name)
    boxes = found or [to_px(b, page.scale) for b in spec.boxes]
    dx, dy = refine_shift(page.image, boxes, snap_px(boxes) if wide else SEARCH_PX)
    moved = [(x + dx, y + dy, w, h) for x, y, w, h in boxes]
    return FieldCrops(spec.name, moved, [crop_box(page.image, b) for b in moved], (dx, dy))


def cut_boxes(page: Page, template: Template) -> dict[str, FieldCrops]:
    """Every field's box crops, in template order. Forms we design print every box's outline,
    so a field is searched far where the paper curls; a registered form's box map may mark
    digits in open cells (DKI 2017: table lines 20 px away, no outline), so only near there."""
    wide = template.page.unit == "mm"
    return {f.name: cut_field(page, f, wide) for f in template.fields}
