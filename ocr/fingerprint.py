"""A perceptual hash of a photo: the same picture resent (recompressed, resized) hashes alike."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr.types import GrayImage


def phash(image: GrayImage) -> int:
    """64-bit DCT hash: signs of the 8x8 lowest frequencies of a 32x32 thumbnail vs their median."""
    small = cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def phash_bytes(data: bytes) -> int | None:
    """Hash of an encoded photo, decoded at 1/8 size (cheap); None when it does not decode."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if image is None or image.size == 0:
        return None
    return phash(image)


def distance(a: int, b: int) -> int:
    return bin((a ^ b) & (2**64 - 1)).count("1")


def bands(h: int) -> tuple[int, int, int, int]:
    """Four 16-bit slices; two hashes <= 3 bits apart share at least one (pigeonhole)."""
    a, b, c, d = ((h >> (16 * i)) & 0xFFFF for i in range(4))
    return a, b, c, d


def to_signed(h: int) -> int:
    """As a signed 64-bit integer, for a BIGINT column."""
    return h - 2**64 if h >= 2**63 else h
