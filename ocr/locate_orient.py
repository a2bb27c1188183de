"""Which way up a corner-mark page lies, from evidence handwriting cannot fake: the QR code where
the template prints it, else the printed title (tesseract); similarity to the blank form only as
a last resort, and a page no evidence settles is rejected, never read turned."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Homography, Page
from sipantau.templates.model import Template

QR_PX_PER_UNIT = 6.0  # the QR region is inspected at this many px per template unit (mm)
QR_MARGIN = 0.4  # of the QR side, around where it is printed
# how far (in QR sides) the code's centre may lie from where the frame puts it: curled paper and
# frames completed from three marks move it (own samples: 99 % within 0.27, a few to 0.59)
QR_OFF_CENTRE = 0.35
TITLE_PX_PER_UNIT = 6.0  # cap height 4.2 mm -> 25 px: what tesseract reads best
Found = tuple[Homography, str, str | None]  # photo -> units, evidence, QR payload


def turns(quad: np.ndarray, template: Template) -> list[Homography]:
    """The four ways to pair the marks' quad with the template's corners (photo -> units)."""
    units = np.array(template.locator.corners, np.float64)
    out = []
    for r in range(4):
        H, _ = cv2.findHomography(np.roll(quad, -r, axis=0), units, 0)
        out.append(H if H is not None else np.full((3, 3), np.nan))
    return out


def crop_matrix(rect: tuple[float, ...], k: float) -> np.ndarray:
    """Template units -> pixels of a crop of `rect` (x, y, w, h) at `k` px per unit."""
    x, y = rect[0], rect[1]
    return np.array([[k, 0, -x * k], [0, k, -y * k], [0, 0, 1]], np.float64)


def _crop(photo: GrayImage, H: Homography, rect: tuple[float, ...], k: float) -> np.ndarray:
    """The template-unit rectangle `rect` (x, y, w, h) of the page, as the photo shows it."""
    x, y, w, h = rect
    M = crop_matrix(rect, k) @ H
    size = (int(round(w * k)), int(round(h * k)))
    return cv2.warpPerspective(photo, M, size, flags=cv2.INTER_LINEAR, borderValue=255)


def _qr_region(template: Template) -> tuple[float, float, float, float]:
    x, y, w, h = template.qr or (0, 0, 0, 0)
    m = QR_MARGIN * max(w, h)
    return x - m, y - m, w + 2 * m, h + 2 * m


def _qr_found(crop: np.ndarray, side_px: float) -> np.ndarray | None:
    """A QR code's three finder patterns near the middle of the crop, about the printed size
    and upright as printed: its corner points, else None. The detector lists a code's corners
    from its own top-left finder pattern, so a page turned the wrong way shows its code turned
    too (turned half round, the KWK number boxes lie on the print almost as well as upright)."""
    try:
        ok, pts = cv2.QRCodeDetector().detect(crop)
    except cv2.error:
        return None
    if not ok or pts is None:
        return None
    corners = pts.reshape(-1, 2)
    centre = np.array(crop.shape[::-1], np.float64) / 2
    size = float(np.sqrt(abs(cv2.contourArea(corners.astype(np.float32)))))
    near = np.linalg.norm(corners.mean(axis=0) - centre) < QR_OFF_CENTRE * side_px
    first = corners[0] - corners.mean(axis=0)
    upright = bool(first[0] < 0 and first[1] < 0)
    return pts if near and upright and 0.6 * side_px < size < 1.5 * side_px else None


def _qr_text(crop: np.ndarray, pts: np.ndarray) -> str | None:
    """The payload of the code found at `pts`: decoded there (what detectAndDecode would do,
    without detecting again), else by the ArUco-based detector and on a sharpened copy."""
    try:
        text = cv2.QRCodeDetector().decode(crop, pts)[0]
    except cv2.error:
        text = ""
    if text:
        return str(text)
    big = cv2.resize(crop, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    sharp = cv2.addWeighted(big, 2.0, cv2.GaussianBlur(big, (0, 0), 3), -1.0, 0)
    for img, dets in (
        (crop, (cv2.QRCodeDetectorAruco(),)),
        (sharp, (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())),
    ):
        for det in dets:
            try:
                text = det.detectAndDecode(img)[0]
            except cv2.error:
                continue
            if text:
                return str(text)
    return None


def _upright_first(template: Template, Hs: list[Homography]) -> list[int]:
    """The turns, the one that shows the page's top up in the photo first (most photos)."""
    w, h = template.page.width, template.page.height
    ends = np.array([[[w / 2, 0.0], [w / 2, h]]], np.float64)

    def upward(H: Homography) -> float:
        try:
            top, bottom = cv2.perspectiveTransform(ends, np.linalg.inv(H))[0]
        except (np.linalg.LinAlgError, cv2.error):
            return -2.0
        d = bottom - top
        return float(d[1] / (np.linalg.norm(d) + 1e-9))

    finite = [r for r, H in enumerate(Hs) if np.isfinite(H).all()]
    return sorted(finite, key=lambda r: -upward(Hs[r]))


def by_qr(photo: GrayImage, template: Template, Hs: list[Homography]) -> Found | None:
    """The one turn that shows a QR code where the template prints it (and its payload). A
    sipantau payload read there settles it at once: a page prints one QR code, and a turn
    looks where no other turn does."""
    from sipantau.templates.render import parse_qr_payload

    if template.qr is None:
        return None
    region = _qr_region(template)
    side = QR_PX_PER_UNIT * max(template.qr[2], template.qr[3])
    hits, texts = [], {}
    for r in _upright_first(template, Hs):
        if not _inside(photo, Hs[r], tuple(template.qr)):
            continue  # no QR code can show where the photo has no pixels
        crop = _crop(photo, Hs[r], region, QR_PX_PER_UNIT)
        pts = _qr_found(crop, side)
        if pts is None:
            continue
        hits.append(r)
        texts[r] = _qr_text(crop, pts)
        if texts[r] and parse_qr_payload(texts[r] or "") is not None:
            return Hs[r], "qr", texts[r]
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


def _inside(photo: GrayImage, H: Homography, rect: tuple[float, ...]) -> bool:
    """Whether the page-unit rectangle lies in the photo (else there is no title to read)."""
    x, y, w, h = rect
    pts = np.array([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]], np.float64)
    try:
        q = cv2.perspectiveTransform(pts, np.linalg.inv(H))[0]
    except np.linalg.LinAlgError:
        return False
    ph, pw = photo.shape[:2]
    return bool(
        (q[:, 0] >= 0).all()
        and (q[:, 0] < pw).all()
        and (q[:, 1] >= 0).all()
        and (q[:, 1] < ph).all()
    )


def _has_print(crop: np.ndarray) -> bool:
    """Some dark print on paper (a line of text), not a blank or a solid area."""
    dark = float((crop < 0.6 * np.median(crop)).mean())
    return 0.02 < dark < 0.5


def by_title(
    photo: GrayImage, template: Template, Hs: list[Homography], order: list[int]
) -> Found | None:
    """The turn whose title region reads as the template's title (tesseract, one line; a call
    costs ~0.3 s, so only the turn most like the blank form, `order[0]`, is read: in another
    turn that region shows table or handwriting, never this title)."""
    from sipantau.ocr.identify import MIN_TITLE_SCORE, ocr_line, title_score

    spec = _title_region(template)
    if spec is None:
        return None
    region, title = spec
    H = Hs[order[0]]
    if not np.isfinite(H).all() or not _inside(photo, H, region):
        return None
    crop = _crop(photo, H, region, TITLE_PX_PER_UNIT)
    if _has_print(crop) and title_score(title, ocr_line(crop)) >= MIN_TITLE_SCORE:
        return H, "title", None
    return None


def orient(
    photo: GrayImage,
    template: Template,
    quad: np.ndarray,
    settings: LocateSettings,
    use_title: bool = True,
    completed: bool = False,
) -> Found | str:
    """The page's turn and the evidence for it, or why no evidence settles it. A frame
    `completed` from fewer marks gets no similarity here: its missing marks and its printed
    lines are better evidence (`locate_marks.by_marks`), the similarity after them."""
    from sipantau.ocr.locate_similar import by_similarity, similarities

    Hs = turns(quad, template)
    found = by_qr(photo, template, Hs)
    if found:
        return found
    if completed and not use_title:
        return "no QR, no title"  # the scores below only order the turns for the title
    scores = similarities(photo, template, Hs)
    order = [int(r) for r in np.argsort(scores)[::-1]]
    found = by_title(photo, template, Hs, order) if use_title else None
    if found or completed:
        return found or "no QR, no title"
    return by_similarity(scores, Hs, settings)


def by_lines_or_similarity(
    photo: GrayImage, template: Template, quad: np.ndarray, settings: LocateSettings
) -> Found | str:
    """A completed frame with no QR code or title to turn it: the turn its printed lines line
    up in (evidence "lines": a homography from a coarse ECC on them, `by_print`), else the one
    most like the blank form, by a clear margin."""
    from sipantau.ocr.locate_partial import by_print
    from sipantau.ocr.locate_similar import by_similarity, similarities

    Hs = turns(quad, template)
    printed = by_print(photo, template, quad, Hs)
    if printed is not None:
        return printed, "lines", None
    return by_similarity(similarities(photo, template, Hs), Hs, settings)


def title_on_page(page: Page, template: Template) -> str | None:
    """Tesseract on the title region of the canonical page (None when it has no title)."""
    from sipantau.ocr.identify import ocr_line

    spec = _title_region(template)
    if spec is None:
        return None
    x, y, w, h = (v * page.scale for v in spec[0])
    ih, iw = page.image.shape[:2]
    crop = page.image[max(0, int(y)) : min(ih, int(y + h)), max(0, int(x)) : min(iw, int(x + w))]
    if crop.size == 0:
        return None
    f = TITLE_PX_PER_UNIT / page.scale
    return ocr_line(cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA))
