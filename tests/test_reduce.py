"""The shared reduced copy of a photo (`ocr/reduce.py`): made once per photo, never another's."""

from __future__ import annotations

import numpy as np
import pytest

from sipantau.ocr.reduce import reduced


def test_one_copy_per_photo_read_only_and_never_another_photos():
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (3000, 2000), np.uint8)
    small, f = reduced(photo, 1000)
    assert small.shape == (1000, 667) and f == pytest.approx(1000 / 3000)
    again, _ = reduced(photo, 1000)
    assert again is small  # the second locator's glance costs no resize
    with pytest.raises(ValueError):
        small[0, 0] = 0  # shared: no locator may draw on it
    same_pixels = photo.copy()
    other, _ = reduced(same_pixels, 1000)
    assert other is not small and np.array_equal(other, small)
    assert reduced(photo, 800)[0].shape == (800, 533)
    assert reduced(small, 1000)[0] is small  # no larger than asked: the photo itself


def test_a_freed_photo_is_not_served_to_the_next():
    """A new photo may land at the freed one's address: its copy is made from it, not reused."""
    first = np.zeros((2000, 2000), np.uint8)
    reduced(first, 1000)
    del first
    second = np.full((2000, 2000), 200, np.uint8)
    assert reduced(second, 1000)[0].min() == 200
