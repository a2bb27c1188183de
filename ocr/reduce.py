"""A photo's reduced copy, made once while the photo lives: the locators that glance at the
whole photo (ArUco markers, corner marks) share it instead of each shrinking 8-12 MP again."""

from __future__ import annotations

import threading
import weakref

import cv2

from sipantau.ocr.types import GrayImage

_last = threading.local()  # per thread: (weak ref to the photo, long side, copy, factor)


def reduced(photo: GrayImage, long_side: int) -> tuple[GrayImage, float]:
    """`photo` shrunk (INTER_AREA) to at most `long_side` px, read-only, and its scale factor;
    the photo itself when it is no larger."""
    f = min(1.0, long_side / max(photo.shape[:2]))
    if f == 1.0:
        return photo, 1.0
    hit = getattr(_last, "entry", None)
    if hit is not None and hit[0]() is photo and hit[1] == long_side:
        return hit[2], hit[3]
    small = cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    small.flags.writeable = False
    _last.entry = (weakref.ref(photo), long_side, small, f)
    return small, f
