"""Identify stage: which template a photo shows, by its QR code, else by its printed title."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

import cv2
import numpy as np

from sipantau.ocr.errors import UnknownTemplate
from sipantau.ocr.tesseract import image_to_string
from sipantau.ocr.types import GrayImage
from sipantau.templates.model import Template
from sipantau.templates.render import parse_qr_payload

QR_SIDES = (1600, 1100, 2400)  # long sides, px, the photo is searched for a QR code at
TITLE_SIDE = 2400  # long side, px, the photo is scaled to for tesseract
TITLE_TOP = 0.4  # share of the (turned) photo's height searched for the title
MIN_TITLE_SCORE = 0.7
MIN_TITLE_MARGIN = 0.08


class FormNotIdentified(UnknownTemplate):
    code = "form_not_identified"


NOT_IDENTIFIED = (
    "jenis formulir tidak dikenali dari QR maupun judulnya; pilih formulir secara "
    "manual atau foto ulang dengan judul dan kode QR terlihat jelas"
)


@dataclass(frozen=True)
class Identification:
    template_id: str
    tps: str | None
    method: Literal["qr", "title"]
    score: float = 1.0  # title: similarity of the best match, 0..1


def _resized(photo: GrayImage, long_side: int) -> GrayImage:
    f = long_side / max(photo.shape[:2])
    if f >= 1.0:
        return photo
    return cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def _detectors() -> tuple[cv2.QRCodeDetector, cv2.QRCodeDetectorAruco]:
    return cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()


def _decode_rectified(photo: GrayImage, corners: np.ndarray) -> str:
    """Warp the found code to an upright square, then decode it as is, sharpened, binarised."""
    side, m = 300, 40
    dst = np.array([[m, m], [m + side, m], [m + side, m + side], [m, m + side]], np.float32)
    H = cv2.getPerspectiveTransform(corners.reshape(4, 2).astype(np.float32), dst)
    crop = cv2.warpPerspective(
        photo, H, (side + 2 * m, side + 2 * m), flags=cv2.INTER_CUBIC, borderValue=255
    )
    sharp = cv2.addWeighted(crop, 2.0, cv2.GaussianBlur(crop, (0, 0), 3), -1.0, 0)
    otsu = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
    for image in (crop, sharp, otsu):
        for det in _detectors():
            text = det.detectAndDecode(image)[0]
            if text:
                return str(text)
    return ""


def read_qr(photo: GrayImage, sides: Sequence[int] = QR_SIDES) -> str | None:
    """The QR payload in the photo: found at a few scales, decoded from a rectified crop."""
    for side in sides:
        small = _resized(photo, side)
        f = small.shape[1] / photo.shape[1]
        for det in _detectors():
            try:
                ok, corners = det.detect(small)
                text = _decode_rectified(photo, corners / f) if ok and corners is not None else ""
            except cv2.error:
                continue
            if text:
                return text
    return None


def _by_qr(photo: GrayImage, known: set[str], sides: Sequence[int]) -> Identification | None:
    text = read_qr(photo, sides)
    parsed = parse_qr_payload(text) if text else None
    if parsed and parsed[0] in known:
        return Identification(parsed[0], parsed[1], "qr")
    return None


def normalise(text: str) -> str:
    """Upper case letters and digits, single spaces: what tesseract and the title share."""
    return re.sub(r"\s+", " ", re.sub(r"[^A-Z0-9]+", " ", text.upper())).strip()


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def title_score(title: str, ocr_text: str) -> float:
    """How well the OCR text shows `title` (0..1): the better of a same-length window of the
    text, and each title word's best match among the text's words and word pairs (tesseract
    splits words on a tilted page), weighted by length."""
    t, o = normalise(title), normalise(ocr_text)
    if not t or not o:
        return 0.0
    starts = [0] + [m.end() for m in re.finditer(" ", o)]
    window = max(_ratio(t, o[i : i + len(t)]) for i in starts)
    words = o.split()
    grams = set(words) | {a + b for a, b in zip(words, words[1:], strict=False)}
    title_words = t.split()
    found = sum(len(w) * max(_ratio(w, g) for g in grams) for w in title_words)
    return max(window, found / sum(len(w) for w in title_words))


OCR_TIMEOUT_S = 5.0


def _title_of(template: Template) -> str:
    titles = [t.text for t in template.texts if t.role == "title"]
    return titles[0] if titles else template.title


def ocr_top(photo: GrayImage, quarter_turns: int) -> str:
    """Tesseract (eng) on the top part of the photo turned by `quarter_turns` x 90 degrees."""
    turned = np.rot90(photo, quarter_turns)
    top = np.ascontiguousarray(turned[: int(turned.shape[0] * TITLE_TOP)])
    f = min(2.0, TITLE_SIDE / max(photo.shape[:2]))  # small print reads better a bit enlarged
    top = cv2.resize(top, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    top = cv2.addWeighted(top, 1.8, cv2.GaussianBlur(top, (0, 0), 2), -0.8, 0)
    return image_to_string(top, ["--psm", "11"], OCR_TIMEOUT_S)


def ocr_line(image: GrayImage) -> str:
    """Tesseract (eng) on one printed line already cut out and upright (empty on a timeout)."""
    return image_to_string(image, ["--psm", "7"], OCR_TIMEOUT_S)


def match_title(text: str, templates: Sequence[Template]) -> tuple[Template, float] | None:
    """The template whose title the text shows, when it is clearly better than the others."""
    scored = sorted(
        ((title_score(_title_of(t), text), t) for t in templates),
        key=lambda st: st[0],
        reverse=True,
    )
    if not scored or scored[0][0] < MIN_TITLE_SCORE:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < MIN_TITLE_MARGIN:
        return None
    return scored[0][1], scored[0][0]


def identify(
    photo: GrayImage,
    templates: Sequence[Template],
    by_title: bool = True,
    qr_sides: Sequence[int] = QR_SIDES,
) -> Identification:
    """QR code first (searched at `qr_sides`), then (unless not `by_title`) the printed title
    in each of 4 rotations; else FormNotIdentified."""
    found = _by_qr(photo, {t.id for t in templates}, qr_sides)
    if found:
        return found
    for turns in (0, 2, 1, 3) if by_title else ():
        hit = match_title(ocr_top(photo, turns), templates)
        if hit:
            return Identification(hit[0].id, None, "title", round(hit[1], 3))
    raise FormNotIdentified(NOT_IDENTIFIED)
