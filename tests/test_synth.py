"""Synthetic crops: seeded, the right size, dark ink on light paper."""

from __future__ import annotations

import numpy as np

from sipantau.ocr.training.data import drop_overlap
from sipantau.ocr.training.synth import (
    CHASIL_BOX,
    _on_line,
    crop_size,
    elastic,
    render_crop,
    restroke,
    serif_one,
    x_mark,
)
from sipantau.samples.handwriting import holdout_digits, train_digits


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


def test_near_duplicates_found_and_strangers_kept() -> None:
    from sipantau.ocr.training.data import near_duplicates

    images = holdout_digits()[0][:50]
    rng = np.random.default_rng(0)
    noisy = np.clip(images[:10].astype(int) + rng.integers(-20, 21, images[:10].shape), 0, 255)
    others = holdout_digits()[0][50:80]
    cand = np.concatenate([noisy.astype(np.uint8), others])
    hit = near_duplicates(cand, images)
    assert hit[:10].all() and not hit[10:].any()


def test_train_writers_never_write_calib_digits() -> None:
    from sipantau.ocr.training.pipeline_crops import _train_writer
    from sipantau.samples.handwriting import calib_indices, split_indices

    train = split_indices()[0]
    calib = set(calib_indices().tolist())
    for seed in range(20):
        pool = _train_writer(np.random.default_rng(seed)).pool
        assert all(int(train[i]) not in calib for ids in pool.values() for i in ids)


def test_render_covers_sizes_and_pens() -> None:
    """Writing size spans 40-100 % of the box; felt tips and ballpoints both occur."""
    from sipantau.ocr.training.synth import _pen

    rng = np.random.default_rng(3)
    kinds = {_pen(rng)[0] for _ in range(200)}
    assert {"ballpoint", "felt"} <= kinds
    digit = holdout_digits()[0][3]
    crop = render_crop(digit, "digit", np.random.default_rng(9), level=1.0)
    assert crop.dtype == np.uint8 and crop.std() > 5


def test_elastic_warp_moves_ink_smoothly_and_by_its_amplitude() -> None:
    digit = holdout_digits()[0][3]
    rng = np.random.default_rng(4)
    assert np.array_equal(elastic(digit, np.random.default_rng(4), 2.0), elastic(digit, rng, 2.0))
    still = elastic(digit, np.random.default_rng(4), 0.0)
    assert np.abs(still.astype(int) - digit).max() <= 1  # no displacement: the same digit
    moved = elastic(digit, np.random.default_rng(4), 3.0)
    assert moved.shape == digit.shape and moved.dtype == np.uint8
    assert not np.array_equal(moved, digit)
    # ink neither vanishes nor doubles: the warp bends strokes, it does not erase or smear them
    assert 0.7 < (moved > 128).sum() / (digit > 128).sum() < 1.3
    a = render_crop(digit, "digit", np.random.default_rng(5), warp=3.0)
    b = render_crop(digit, "digit", np.random.default_rng(5), warp=3.0)
    assert np.array_equal(a, b)


def test_serif_one_adds_a_flag_or_a_foot_and_keeps_the_stroke() -> None:
    """The 1 stays (ink only added), and what is added lies at its top or across its base."""
    images, labels = holdout_digits()
    ones = images[labels == 1][:40]
    rng = np.random.default_rng(6)
    visible = 0
    for one in ones:
        out = serif_one(one, rng)
        assert out.shape == one.shape and out.dtype == np.uint8
        assert (out >= one).all()
        added = (out > 128) & ~(one > 80)
        ys = np.nonzero(one > 80)[0]
        top, bottom = ys.min(), ys.max()
        third = (bottom - top) / 3
        rows = np.nonzero(added)[0]
        visible += len(rows) >= 5  # a stroke, not a speck (a flag can run along a slanted 1)
        assert len(rows) == 0 or ((rows <= top + third) | (rows >= bottom - third)).mean() > 0.9
    assert visible >= 0.85 * len(ones)
    assert np.array_equal(
        serif_one(ones[0], np.random.default_rng(1)), serif_one(ones[0], np.random.default_rng(1))
    )


def test_writing_laid_on_a_line_reaches_it_and_crosses_at_most_a_third() -> None:
    """`touch`: the writing's edge sits from a tenth short of a box line to a third across it."""
    rng = np.random.default_rng(7)
    sides = set()
    for _ in range(300):
        box, ink = int(rng.integers(55, 75)), int(rng.integers(8, 50))
        axis, push, _ = _on_line([(box, ink), (box + 5, ink)], rng)
        edge = abs(push) + ink / 2  # the far edge of the ink, from the box's centre
        side = box + 5 * axis
        assert side / 2 - 0.1 * ink - 1e-9 <= edge <= side / 2 + 0.35 * ink + 1e-9
        sides.add((axis, push > 0))
    assert len(sides) == 4  # left, right, top and bottom all occur
    digit = holdout_digits()[0][0]
    plain = render_crop(digit, "digit", np.random.default_rng(5))
    assert np.array_equal(plain, render_crop(digit, "digit", np.random.default_rng(5), touch=0.0))
    touched = render_crop(digit, "digit", np.random.default_rng(5), touch=1.0)
    assert touched.shape == plain.shape and not np.array_equal(plain, touched)


def test_filler_x_is_small_and_off_by_default() -> None:
    """`filler`: the small "x" of unused boxes, 15-45 % of the box high; 0 leaves X as it was."""
    box = (59, 71)
    for seed in range(40):
        mark = x_mark(np.random.default_rng(seed), box, 2.0, filler=True)
        ys = np.nonzero(mark > 128)[0]
        assert len(ys) > 0 and ys.max() - ys.min() + 1 <= 0.5 * box[1] + 4
    heights = []
    for seed in range(40):
        ys = np.nonzero(x_mark(np.random.default_rng(seed), box, 2.0) > 128)[0]
        heights.append(ys.max() - ys.min() + 1)
    assert np.median(heights) > 0.5 * box[1]  # most X marks are full crosses
    plain = render_crop(None, "x", np.random.default_rng(3))
    assert np.array_equal(plain, render_crop(None, "x", np.random.default_rng(3), filler=0.0))
    small = render_crop(None, "x", np.random.default_rng(3), filler=1.0)
    assert small.shape == plain.shape and not np.array_equal(plain, small)


def test_pressure_varies_stroke_width_along_the_stroke_and_is_off_by_default() -> None:
    """`vary`: the stroke broader in some places and finer in others, about as much ink."""
    digits, labels = train_digits()
    broader = finer = total = 0
    for k in range(10):
        digit = digits[int(np.flatnonzero(labels == k)[3])]
        even = restroke(digit, 60, 4.0, 1.0)
        assert np.array_equal(even, restroke(digit, 60, 4.0, 1.0, np.random.default_rng(k), 0.0))
        varied = restroke(digit, 60, 4.0, 1.0, np.random.default_rng(k), 0.6) > 128
        ink = even > 128
        assert 0.65 < varied.sum() / ink.sum() < 1.5 and (varied != ink).any()
        broader, finer = broader + (varied & ~ink).sum(), finer + (ink & ~varied).sum()
        total += ink.sum()
    assert broader > 0.04 * total and finer > 0.04 * total
    plain = render_crop(digit, "digit", np.random.default_rng(3))
    even_pen = render_crop(digit, "digit", np.random.default_rng(3), pressure=0.0)
    assert np.array_equal(plain, even_pen)
    pressed = render_crop(digit, "digit", np.random.default_rng(3), pressure=1.0)
    assert pressed.shape == plain.shape and not np.array_equal(plain, pressed)
