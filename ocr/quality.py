"""Quality gates: reject a photo the monitor should retake, with a reason they can act on."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sipantau.ocr.boxes import FieldCrops
from sipantau.ocr.locate import photo_points
from sipantau.ocr.settings import QualitySettings
from sipantau.ocr.types import GrayImage, Page
from sipantau.templates.model import Template


@dataclass(frozen=True)
class Problem:
    code: str
    message: str  # Bahasa Indonesia, for the monitor
    detail: str = ""


CUT_OFF = (
    "bagian {side} formulir terpotong: ada kotak angka di luar foto; foto ulang dengan seluruh "
    "halaman di dalam bingkai"
)
SIDES = {"top": "atas", "bottom": "bawah", "left": "kiri", "right": "kanan"}
TOO_SMALL = "formulir terlalu kecil di foto; dekatkan kamera sampai halaman memenuhi layar"
BLURRY = "foto buram, ulangi: pegang ponsel diam dan ketuk layar agar fokus"
DARK = "foto terlalu gelap; cari tempat yang lebih terang"
GLARE = "ada kotak angka yang tidak terbaca (silau atau bayangan); ubah posisi dan foto ulang"


def _all_boxes_units(template: Template, page: Page) -> np.ndarray:
    """Every box corner, template units: where this print has its boxes, else the template's."""
    pts = []
    for f in template.fields:
        found = page.boxes_found(f.name)
        boxes = [[v / page.scale for v in b] for b in found] if found else f.boxes
        for x, y, w, h in boxes:
            pts += [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
    return np.array(pts, dtype=np.float64)


def cut_side(template: Template, outside: np.ndarray, inside: np.ndarray) -> str:
    """The side of the form (top, bottom, left, right) the boxes outside the photo lie towards,
    seen from the boxes still in it (from the page's centre when none is)."""
    w, h = template.page.width, template.page.height
    origin = inside.mean(axis=0) if len(inside) else np.array([w / 2, h / 2])
    d = (outside.mean(axis=0) - origin) / [w, h]
    if abs(d[0]) > abs(d[1]):
        return "right" if d[0] > 0 else "left"
    return "bottom" if d[1] > 0 else "top"


def cut_off(photo: GrayImage, page: Page, template: Template) -> Problem | None:
    """A digit box (any corner) outside the photo: the page is cut off on that side. The rest of
    the page may lie outside the frame: only the boxes must be in it."""
    units = _all_boxes_units(template, page)
    pts = photo_points(page, units)
    h, w = photo.shape
    inside = (pts[:, 0] >= 1) & (pts[:, 0] <= w - 2) & (pts[:, 1] >= 1) & (pts[:, 1] <= h - 2)
    if inside.all():
        return None
    side = cut_side(template, units[~inside], units[inside])
    return Problem(
        "cut_off",
        CUT_OFF.format(side=SIDES[side]),
        f"{side}: {int((~inside).sum())} box corners outside the photo",
    )


def page_width_px(page: Page) -> float:
    q = page.photo_quad.astype(np.float64)
    return float((np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2)


Stacks = list[tuple[list[str], np.ndarray]]


def _stacks(crops: dict[str, FieldCrops]) -> Stacks:
    """Crops grouped by shape into float32 stacks (one numpy call per group, not per crop)."""
    groups: dict[tuple[int, ...], tuple[list[str], list[np.ndarray]]] = {}
    for name, fc in crops.items():
        for crop in fc.crops:
            names, arrs = groups.setdefault(crop.shape, ([], []))
            names.append(name)
            arrs.append(crop)
    return [(names, np.stack(arrs).astype(np.float32)) for names, arrs in groups.values()]


def sharpness(crops: dict[str, FieldCrops], stacks: Stacks | None = None) -> float:
    """Steepest edge across the printed box lines relative to their contrast (1 / edge width)."""
    ratios = []
    for _, st in _stacks(crops) if stacks is None else stacks:
        st = st[::2]  # every other box is plenty for a page-wide estimate
        flat = st[:, ::2, ::2].reshape(len(st), -1)
        lo, hi = np.percentile(flat, [3, 95], axis=1)
        gx = np.percentile(np.abs(np.diff(st, axis=2)).max(axis=1), 97, axis=1)
        gy = np.percentile(np.abs(np.diff(st, axis=1)).max(axis=2), 97, axis=1)
        contrast = hi - lo
        keep = contrast >= 25
        ratios += list((np.maximum(gx, gy) / np.maximum(contrast, 1))[keep])
    return float(np.median(ratios)) if ratios else 0.0


def washed_out(crops: dict[str, FieldCrops], stacks: Stacks | None = None) -> list[str]:
    """Fields whose printed box lines have faded away (glare, a shadow, a fold over the boxes)."""
    contrast: dict[str, float] = {}
    for names, st in _stacks(crops) if stacks is None else stacks:
        lo, hi = np.percentile(st[:, ::2, ::2].reshape(len(st), -1), [2, 90], axis=1)
        for name, v in zip(names, hi - lo, strict=True):
            contrast[name] = min(contrast.get(name, 1e9), float(v))
    typical = float(np.median(list(contrast.values())))
    return [n for n, v in contrast.items() if v < max(20.0, 0.3 * typical)]


def median_u8(image: GrayImage) -> float:
    """`np.median` of an 8-bit image, from its histogram (a page has 2 M pixels: 0.5 ms, not
    14 ms); the two middle values averaged when the count is even, as numpy does."""
    if image.dtype != np.uint8 or image.size == 0:
        return float(np.median(image))
    counts = np.cumsum(cv2.calcHist([np.ascontiguousarray(image)], [0], None, [256], [0, 256]))
    n = image.size
    lo = int(np.searchsorted(counts, (n - 1) // 2, side="right"))
    hi = int(np.searchsorted(counts, n // 2, side="right"))
    return (lo + hi) / 2


def assess(
    photo: GrayImage,
    page: Page,
    template: Template,
    crops: dict[str, FieldCrops],
    settings: QualitySettings,
) -> list[Problem]:
    """Every reason to retake the photo, most important first (empty when it is fine)."""
    problems: list[Problem] = []
    cut = cut_off(photo, page, template)
    if cut:
        problems.append(cut)
    width = page_width_px(page)
    if width < settings.min_page_width_px:
        problems.append(Problem("too_small", TOO_SMALL, f"page {width:.0f} px wide"))
    inner = page.image[page.image.shape[0] // 10 : -page.image.shape[0] // 10]
    brightness = median_u8(inner)
    if brightness < 50:
        problems.append(Problem("too_dark", DARK, f"median {brightness:.0f}"))
    stacks = _stacks(crops)  # grouped once for both gates below
    sharp = sharpness(crops, stacks)
    if sharp < settings.min_sharpness:
        problems.append(Problem("blurry", BLURRY, f"sharpness {sharp:.2f}"))
    if not cut:
        faded = washed_out(crops, stacks)
        if faded:
            problems.append(Problem("glare", GLARE, f"faded fields: {', '.join(faded[:5])}"))
    return problems
