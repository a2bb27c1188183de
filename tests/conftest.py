"""Shared fixtures: rendered blank forms and simple synthetic photos of them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sipantau.templates.registry import get_template
from sipantau.templates.render import render


@pytest.fixture(scope="session")
def blanko():
    return get_template("sipantau-blanko")


@pytest.fixture(scope="session")
def blanko_page(blanko):
    return render(blanko, dpi=200, tps="1673010001-001").image


def photograph(
    page: np.ndarray,
    rotation: int = 0,
    size=(4000, 3000),
    shift=(0, 0),
    blur: float = 0.0,
    quality: int = 88,
) -> bytes:
    """A plain synthetic photo: the page in perspective, turned by `rotation` quarter turns."""
    h, w = page.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[1250, 250], [2800, 380], [2700, 2760], [1150, 2640]])
    dst += np.float32(shift)
    dst = np.roll(dst, rotation, axis=0)
    photo = cv2.warpPerspective(
        page, cv2.getPerspectiveTransform(src, dst), size, borderValue=(70, 100, 130)
    )
    if blur:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    ok, jpg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return jpg.tobytes()
