from __future__ import annotations

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from sipantau.ocr.decode import decode
from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.settings import DecodeSettings


def _jpeg(w: int, h: int, exif_orientation: int | None = None) -> bytes:
    img = Image.new("L", (w, h), 200)
    img.paste(0, (0, 0, w // 4, h // 8))  # a dark block at the top-left
    buf = io.BytesIO()
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(buf, "JPEG", exif=exif)
    else:
        img.save(buf, "JPEG")
    return buf.getvalue()


def test_large_jpeg_is_reduced_in_the_codec():
    d = decode(_jpeg(4000, 3000))
    assert d.reduction == 2
    assert d.image.shape == (1500, 2000)
    assert d.stored_size == (4000, 3000)


def test_exif_orientation_is_applied():
    d = decode(_jpeg(800, 600, exif_orientation=6))  # rotate 90 clockwise to view
    assert d.image.shape == (800, 600)
    # the dark block was top-left; after a clockwise turn it is top-right
    assert d.image[5, -5] < 60 and d.image[5, 5] > 150


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"%PDF-1.4\n" + b"x" * 100])
def test_not_an_image(data):
    with pytest.raises(PhotoRejected) as exc:
        decode(data)
    assert exc.value.code == "not_an_image"
    assert "foto" in exc.value.message


def test_truncated_jpeg():
    data = _jpeg(1200, 900)
    with pytest.raises(PhotoRejected) as exc:
        decode(data[: len(data) // 2])
    assert exc.value.code == "truncated"


def _png_bomb(w: int, h: int) -> bytes:
    """A small PNG whose header claims w x h pixels (the compressed rows are tiny)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * w
    idat = b"".join(comp.compress(row) for _ in range(64)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    data = _png_bomb(20000, 20000)
    assert len(data) < 200_000
    with pytest.raises(PhotoRejected) as exc:
        decode(data)
    assert exc.value.code == "too_many_pixels"


def test_too_many_bytes():
    with pytest.raises(PhotoRejected) as exc:
        decode(_jpeg(100, 100), DecodeSettings(max_bytes=100))
    assert exc.value.code == "too_large"


def test_png_with_alpha_decodes_to_gray():
    rgba = np.zeros((50, 60, 4), np.uint8)
    rgba[..., 3] = 255
    ok, png = cv2.imencode(".png", rgba)
    d = decode(png.tobytes())
    assert d.image.shape == (50, 60) and d.image.dtype == np.uint8
