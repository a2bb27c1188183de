"""Synthetic crops: seeded, the right size, dark ink on light paper."""

from __future__ import annotations

import numpy as np

from sipantau.ocr.training.data import drop_overlap
from sipantau.ocr.training.synth import CHASIL_BOX, crop_size, render_crop, x_mark
from sipantau.samples.handwriting import holdout_digits


def test_render_is_seeded_and_sized() -> None:
    digit = holdout_digits()[0][0]
    a = render_crop(digit, "digit", np.random.default_rng(5), box_px=CHASIL_BOX)
    b = render_crop(digit, "digit", np.random.default_rng(5), box_px=CHASIL_BOX)
    w, h, _ = crop_size(CHASIL_BOX)
    assert a.shape == (h, w) and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_ink_is_darker_than_paper() -> None:
    crop = render_crop(holdout_digits()[0][1], "digit", np.random.default_rng(1), level=0.0)
    assert np.percentile(crop, 2) < np.median(crop) - 40


def test_x_mark_is_an_ink_mask() -> None:
    mark = x_mark(np.random.default_rng(2), (59, 71))
    assert mark.shape == (71, 59) and mark.dtype == np.uint8
    assert mark.max() > 200 and 0.02 < (mark > 128).mean() < 0.5


def test_drop_overlap_counts() -> None:
    imgs = np.arange(4 * 4, dtype=np.uint8).reshape(4, 2, 2)
    (kept, labels), dropped = drop_overlap(imgs, np.arange(4), imgs[[1, 3]])
    assert dropped == 2 and list(labels) == [0, 2] and len(kept) == 2
