"""Decode stage: untrusted bytes -> grayscale photo (size limits first, EXIF, reduced decode)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.settings import DecodeSettings
from sipantau.ocr.types import GrayImage

# errors only: libjpeg warnings on damaged files would flood the log
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "TIFF"}
# EXIF orientation -> (rotate code or None, flip first)
_ORIENT = {
    2: (None, True),
    3: (cv2.ROTATE_180, False),
    4: (cv2.ROTATE_180, True),
    5: (cv2.ROTATE_90_CLOCKWISE, True),
    6: (cv2.ROTATE_90_CLOCKWISE, False),
    7: (cv2.ROTATE_90_COUNTERCLOCKWISE, True),
    8: (cv2.ROTATE_90_COUNTERCLOCKWISE, False),
}


@dataclass(frozen=True)
class Decoded:
    """A decoded photo: grayscale at `1/reduction` of its stored size, upright per EXIF."""

    image: GrayImage
    reduction: int  # 1, 2, 4 or 8
    stored_size: tuple[int, int]  # width, height as stored in the file
    format: str


def _not_image(detail: str) -> PhotoRejected:
    return PhotoRejected(
        "not_an_image", "berkas bukan foto yang dapat dibaca (gunakan JPEG atau PNG)", detail=detail
    )


def _too_many_pixels(detail: str) -> PhotoRejected:
    return PhotoRejected(
        "too_many_pixels", "ukuran foto tidak wajar; kirim foto kamera biasa", detail=detail
    )


def _jpeg_complete(data: bytes) -> bool:
    """True when the JPEG's entropy-coded scan ends with an EOI marker (not cut off)."""
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: the image data runs to the EOI marker
            return data.find(b"\xff\xd9", pos + 2 + length) != -1
        pos += 2 + length
    return False


def _reduction(width: int, height: int, target_long_side: int) -> int:
    long_side = max(width, height)
    for r in (8, 4, 2):
        if long_side // r >= target_long_side:
            return r
    return 1


def probe(data: bytes, settings: DecodeSettings) -> tuple[str, int, int, int]:
    """Read only the header: (format, width, height, EXIF orientation); refuse bombs and junk."""
    if len(data) == 0:
        raise _not_image("empty file")
    if len(data) > settings.max_bytes:
        raise PhotoRejected(
            "too_large", f"berkas terlalu besar (lebih dari {settings.max_bytes // 1_000_000} MB)"
        )
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format or "", im.size
            orientation = 1
            if fmt in ("JPEG", "WEBP", "TIFF"):
                orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(str(exc)) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _not_image(f"{type(exc).__name__}: {exc}") from exc
    if fmt not in FORMATS:
        raise _not_image(f"unsupported format {fmt!r}")
    if w * h > settings.max_pixels or w <= 0 or h <= 0:
        raise _too_many_pixels(f"{w}x{h} > {settings.max_pixels} pixels")
    if fmt == "JPEG" and not _jpeg_complete(data):
        raise PhotoRejected(
            "truncated", "foto terpotong saat dikirim (berkas tidak utuh); kirim ulang"
        )
    return fmt, w, h, orientation


def decode(data: bytes, settings: DecodeSettings | None = None, *, full: bool = False) -> Decoded:
    """Decode untrusted bytes to an upright grayscale image, reduced in the codec when large
    (unless `full`, for a page too small in the frame to read at the reduced size)."""
    settings = settings or DecodeSettings()
    fmt, w, h, orientation = probe(data, settings)
    r = _reduction(w, h, settings.target_long_side) if fmt == "JPEG" and not full else 1
    flags = {
        1: cv2.IMREAD_GRAYSCALE,
        2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
        4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
        8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
    }[r]
    buf = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buf, flags | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None or image.size == 0:
        raise PhotoRejected("corrupt", "foto rusak dan tidak dapat dibuka; kirim ulang")
    if image.ndim == 3:  # 16-bit or alpha PNGs can still come back with channels
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
    if r == 1 and not full and max(w, h) > 2 * settings.target_long_side:
        s = settings.target_long_side / max(w, h)
        image = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        r = max(1, round(1 / s))
    rot, flip = _ORIENT.get(orientation, (None, False))
    if flip:
        image = cv2.flip(image, 1)
    if rot is not None:
        image = cv2.rotate(image, rot)
    return Decoded(np.ascontiguousarray(image), r, (w, h), fmt)
