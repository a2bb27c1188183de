"""Which way up a corner-mark page lies, from evidence handwriting cannot fake: the QR code where
the template prints it, else the printed title (tesseract); similarity to the blank form only as
a last resort, and a page no evidence settles is rejected, never read turned."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Homography
from sipantau.templates.model import Template

QR_PX_PER_UNIT = 6.0  # the QR region is inspected at this many px per template unit (mm)
QR_MARGIN = 0.4  # of the QR side, around where it is printed
TITLE_PX_PER_UNIT = 6.0  # cap height 4.2 mm -> 25 px: what tesseract reads best
SURE_TITLE = 0.85  # a turn whose title region reads this well needs no other turn read
Found = tuple[Homography, str, str | None]  # photo -> units, evidence, QR payload


def turns(quad: np.ndarray, template: Template) -> list[Homography]:
    """The four ways to pair the marks' quad with the template's corners (photo -> units)."""
    units = np.array(template.locator.corners, np.float64)
    out = []
    for r in range(4):
        H, _ = cv2.findHomography(np.roll(quad, -r, axis=0), units, 0)
        out.append(H if H is not None else np.full((3, 3), np.nan))
    return out


def _crop(photo: GrayImage, H: Homography, rect: tuple[float, ...], k: float) -> np.ndarray:
    """The template-unit rectangle `rect` (x, y, w, h) of the page, as the photo shows it."""
    x, y, w, h = rect
    M = np.array([[k, 0, -x * k], [0, k, -y * k], [0, 0, 1]], np.float64) @ H
    size = (int(round(w * k)), int(round(h * k)))
    return cv2.warpPerspective(photo, M, size, flags=cv2.INTER_LINEAR, borderValue=255)


def _qr_region(template: Template) -> tuple[float, float, float, float]:
    x, y, w, h = template.qr or (0, 0, 0, 0)
    m = QR_MARGIN * max(w, h)
    return x - m, y - m, w + 2 * m, h + 2 * m


def _qr_found(crop: np.ndarray, side_px: float) -> bool:
    """A QR code's three finder patterns near the middle of the crop, about the printed size."""
    try:
        ok, pts = cv2.QRCodeDetector().detect(crop)
    except cv2.error:
        return False
    if not ok or pts is None:
        return False
    pts = pts.reshape(-1, 2)
    centre = np.array(crop.shape[::-1], np.float64) / 2
    size = float(np.sqrt(abs(cv2.contourArea(pts.astype(np.float32)))))
    near = np.linalg.norm(pts.mean(axis=0) - centre) < 0.25 * side_px
    return bool(near and 0.6 * side_px < size < 1.5 * side_px)


def _qr_text(crop: np.ndarray) -> str | None:
    big = cv2.resize(crop, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    sharp = cv2.addWeighted(big, 2.0, cv2.GaussianBlur(big, (0, 0), 3), -1.0, 0)
    for img in (crop, sharp):
        for det in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
            try:
                text = det.detectAndDecode(img)[0]
            except cv2.error:
                continue
            if text:
                return str(text)
    return None


def by_qr(photo: GrayImage, template: Template, Hs: list[Homography]) -> Found | None:
    """The one turn that shows a QR code where the template prints it (and its payload)."""
    if template.qr is None:
        return None
    region = _qr_region(template)
    side = QR_PX_PER_UNIT * max(template.qr[2], template.qr[3])
    crops = [_crop(photo, H, region, QR_PX_PER_UNIT) if np.isfinite(H).all() else None for H in Hs]
    hits = [r for r, c in enumerate(crops) if c is not None and _qr_found(c, side)]
    texts = {r: _qr_text(crops[r]) for r in hits}  # type: ignore[arg-type]
    decoded = [r for r in hits if texts[r]]
    if len(decoded) == 1:
        return Hs[decoded[0]], "qr", texts[decoded[0]]
    if len(hits) == 1 and not decoded:
        return Hs[hits[0]], "qr", None  # finder patterns without a readable payload
    return None


def _title_region(template: Template) -> tuple[tuple[float, ...], str] | None:
    titles = [t for t in template.texts if t.role == "title"]
    if not titles:
        return None
    t = titles[0]
    width = len(t.text) * t.size * 0.95 + 4 * t.size
    x0 = {"left": t.x, "center": t.x - width / 2, "right": t.x - width}[t.align] - 2 * t.size
    return (x0, t.y - 2.2 * t.size, width + 2 * t.size, 3.2 * t.size), t.text


def by_title(photo: GrayImage, template: Template, Hs: list[Homography]) -> Found | None:
    """The one turn whose title region reads as the template's title (tesseract, one line)."""
    from sipantau.ocr.identify import MIN_TITLE_SCORE, ocr_line, title_score

    spec = _title_region(template)
    if spec is None:
        return None
    region, title = spec
    scores = [0.0] * len(Hs)
    for r, H in enumerate(Hs):
        if np.isfinite(H).all():
            scores[r] = title_score(title, ocr_line(_crop(photo, H, region, TITLE_PX_PER_UNIT)))
        if scores[r] >= SURE_TITLE:  # the other turns show table or handwriting there
            return H, "title", None
    order = np.argsort(scores)[::-1]
    best, second = scores[order[0]], scores[order[1]]
    if best >= MIN_TITLE_SCORE and best - second >= 0.2:
        return Hs[int(order[0])], "title", None
    return None


def orient(
    photo: GrayImage, template: Template, quad: np.ndarray, settings: LocateSettings
) -> Found | str:
    """The page's turn and the evidence for it, or why no evidence settles it."""
    Hs = turns(quad, template)
    found = by_qr(photo, template, Hs) or by_title(photo, template, Hs)
    if found:
        return found
    from sipantau.ocr.locate_similar import by_similarity

    return by_similarity(photo, template, Hs, settings)
