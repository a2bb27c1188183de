"""Locate stage for C.HASIL forms: four L-shaped corner marks, then the page's orientation."""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate import NOT_FOUND, make_page
from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Page
from sipantau.templates.model import Template

THUMB_W = 124  # px: the blank form's width when orientations are compared


def _l_candidates(binary: np.ndarray, min_area: float, max_area: float) -> list[np.ndarray]:
    """Contours shaped like an L: solid, about 0.6 of their bounding square, clearly concave."""
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        area = cv2.contourArea(c)
        if not min_area <= area <= max_area:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(c)
        if min(rw, rh) < 0.6 * max(rw, rh):
            continue
        if area / max(cv2.arcLength(c, True), 1.0) < 0.1 * np.sqrt(rw * rh):
            continue  # strokes too thin for a printed mark (handwriting, box lines)
        fill = area / max(rw * rh, 1.0)
        hull_area = cv2.contourArea(cv2.convexHull(c))
        if not (0.35 < fill < 0.8) or area / max(hull_area, 1.0) > 0.85:
            continue
        out.append(c.reshape(-1, 2).astype(np.float64))
    return out


def _outer_corner(contour: np.ndarray, center: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(contour - center, axis=1)
    return contour[int(np.argmax(d))]


def _quad_score(quad: np.ndarray) -> float:
    """Area of a convex quad (0 when not convex)."""
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return 0.0
    return float(cv2.contourArea(quad.astype(np.float32)))


def _order_clockwise(pts: np.ndarray) -> np.ndarray:
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    return pts[np.argsort(ang)]  # image y points down: increasing angle is clockwise


def corner_mark_quads(photo: GrayImage, min_page_fraction: float) -> list[np.ndarray]:
    """Candidate page quads (outer corners of four L marks, clockwise), largest first."""
    f = min(1.0, 1000 / max(photo.shape))
    small = cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    # solid print is much darker than the paper around it (a dark table is not)
    paper = cv2.dilate(small, np.ones((31, 31), np.uint8))
    binary = np.where(small.astype(np.float32) < 0.55 * paper, 255, 0).astype(np.uint8)
    cands = _l_candidates(binary, small.size * min_page_fraction * 4e-5, small.size * 0.01)
    cands = sorted(cands, key=lambda c: -cv2.contourArea(c.astype(np.float32)))[:14]
    areas = [cv2.contourArea(c.astype(np.float32)) for c in cands]
    quads: list[tuple[float, np.ndarray]] = []
    for combo in itertools.combinations(range(len(cands)), 4):
        a = [areas[i] for i in combo]
        if max(a) > 3 * min(a):  # the four marks are printed the same size
            continue
        center = np.array([cands[i].mean(axis=0) for i in combo]).mean(axis=0)
        quad = _order_clockwise(np.array([_outer_corner(cands[i], center) for i in combo]))
        score = _quad_score(quad)
        if score >= small.size * min_page_fraction:
            quads.append((score, quad / f))
    quads.sort(key=lambda q: -q[0])
    return [q for _, q in quads[:8]]


_THUMBS: dict[str, np.ndarray] = {}


def _thumbnail(template: Template) -> np.ndarray:
    """The blank form at thumbnail size, cached per template id."""
    if template.id not in _THUMBS:
        _THUMBS[template.id] = _render_thumbnail(template)
    return _THUMBS[template.id]


def _render_thumbnail(template: Template) -> np.ndarray:
    from sipantau.templates.render import render  # render is only needed for the orientation

    dpi = THUMB_W / template.page.width * 25.4 if template.page.unit == "mm" else None
    img = render(template, dpi=dpi or 25.4).image
    thumb = cv2.resize(
        cv2.cvtColor(img, cv2.COLOR_BGR2GRAY),
        (THUMB_W, int(round(THUMB_W * template.page.height / template.page.width))),
        interpolation=cv2.INTER_AREA,
    )
    return _high_pass(thumb)


def _high_pass(img: np.ndarray) -> np.ndarray:
    """Print structure without the light falling across the page."""
    f = cv2.GaussianBlur(img.astype(np.float32), (3, 3), 0)
    return f - cv2.GaussianBlur(f, (0, 0), 6)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))


def best_rotation(
    photo: GrayImage, template: Template, quad: np.ndarray, units_quad: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Of the four ways to pair the quad with the page corners, the one that looks like the form:
    (photo -> units homography, its similarity to the blank form, the runner-up's)."""
    thumb = _thumbnail(template)
    th, tw = thumb.shape
    k = tw / template.page.width
    scored: list[tuple[float, np.ndarray]] = []
    for shift in range(4):
        H, _ = cv2.findHomography(np.roll(quad, -shift, axis=0), units_quad * k, 0)
        if H is None:
            continue
        warped = cv2.warpPerspective(photo, H, (tw, th), flags=cv2.INTER_AREA, borderValue=255)
        scored.append((_ncc(_high_pass(warped), thumb), np.diag([1 / k, 1 / k, 1.0]) @ H))
    if len(scored) < 2:
        raise PhotoRejected(*NOT_FOUND, detail="no orientation fits")
    scored.sort(key=lambda sh: -sh[0])
    return scored[0][1], scored[0][0], scored[1][0]


def locate_corner_marks(photo: GrayImage, template: Template, settings: LocateSettings) -> Page:
    """Four L marks, then the orientation (and the right quad) that looks most like the form."""
    quads = corner_mark_quads(photo, settings.min_page_fraction)
    if not quads:
        raise PhotoRejected(*NOT_FOUND, detail="no four corner marks found")
    units_quad = np.array(template.locator.corners, dtype=np.float64)
    H, best, second = max(
        (best_rotation(photo, template, q, units_quad) for q in quads), key=lambda r: r[1]
    )
    if best < settings.min_form_similarity or best - second < settings.min_orientation_margin:
        raise PhotoRejected(
            "wrong_form",
            "foto bukan formulir yang diharapkan, atau arahnya "
            "tidak jelas; foto ulang seluruh halaman",
            detail=f"similarity {best:.2f}, runner-up {second:.2f}",
        )
    return make_page(photo, template, H, "corner_marks", settings)
