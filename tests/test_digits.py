"""The shipped digit model: loads, normalises, and reads unseen handwriting."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sipantau.ocr.digits import (
    INPUT_SIZE,
    READERS,
    CnnDigitReader,
    DigitInputError,
    DigitModelError,
    default_reader,
    prepare,
)
from sipantau.ocr.training.synth import render_crop
from sipantau.ocr.types import BLANK_CLASS, CLASSES, N_CLASSES, X_CLASS
from sipantau.samples.handwriting import holdout_digits


@pytest.fixture(scope="module")
def reader() -> CnnDigitReader:
    r = default_reader()
    assert isinstance(r, CnnDigitReader)
    return r


def test_model_loads_with_matching_metadata(reader: CnnDigitReader) -> None:
    assert tuple(reader.meta["classes"]) == CLASSES
    assert 0.1 < reader.temperature < 10
    assert set(READERS) == {"cnn", "tesseract"}


def test_predict_shape_and_normalisation(reader: CnnDigitReader) -> None:
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 256, (89, 77), dtype=np.uint8) for _ in range(5)]
    crops.append(np.full((83, 83, 3), 200, np.uint8))  # colour input is accepted
    probs = reader.predict(crops)
    assert probs.shape == (6, N_CLASSES) and probs.dtype == np.float64
    assert np.allclose(probs.sum(axis=1), 1.0) and (probs >= 0).all()
    assert reader.predict([]).shape == (0, N_CLASSES)


def test_reads_unseen_handwriting(reader: CnnDigitReader) -> None:
    """Holdout digits in the synthetic renderer's hard cases (felt tips, 40 % sizes, crossing
    lines, shake): a working model reads ~96 %, an untrained one ~10 %."""
    images, labels = holdout_digits()
    rng = np.random.default_rng(7)
    idx = rng.choice(len(images), 200, replace=False)
    crops = [render_crop(images[i], "digit", rng, level=0.6) for i in idx]
    acc = float((reader.predict(crops).argmax(axis=1) == labels[idx]).mean())
    assert acc >= 0.94, acc


def test_x_and_blank(reader: CnnDigitReader) -> None:
    rng = np.random.default_rng(11)
    xs = [render_crop(None, "x", rng, box_px=(71, 71)) for _ in range(30)]
    blanks = [render_crop(None, "blank", rng) for _ in range(30)]
    assert (reader.predict(xs).argmax(axis=1) == X_CLASS).mean() >= 0.95
    assert (reader.predict(blanks).argmax(axis=1) == BLANK_CLASS).mean() >= 0.95


def test_plain_paper_is_blank_with_confidence(reader: CnnDigitReader) -> None:
    """An empty printed box, as the pipeline cuts it, is blank and surely so; bare paper with no
    box (never cut) is still blank, less surely."""
    paper = np.full((89, 77), 190, np.uint8)
    box = cv2.rectangle(paper.copy(), (9, 9), (67, 79), 60, 2)
    probs = reader.predict([box, paper])
    assert probs[0].argmax() == BLANK_CLASS and probs[0].max() > 0.95
    assert probs[1].argmax() == BLANK_CLASS and probs[1].max() > 0.5


def test_prepare_is_deterministic_and_bounded() -> None:
    crop = render_crop(holdout_digits()[0][0], "digit", np.random.default_rng(0))
    a, b = prepare(crop), prepare(crop.copy())
    assert a.shape == (1, INPUT_SIZE, INPUT_SIZE) and a.dtype == np.float32
    assert np.array_equal(a, b) and 0.0 <= a.min() and a.max() <= 1.0


def test_onnxruntime_computes_what_opencv_computes(reader: CnnDigitReader) -> None:
    """The runtime (onnxruntime) against OpenCV's own ONNX importer on the shipped weights:
    the same logits to 1e-4 on 64 rendered crops, so the engine is no part of the readings."""
    import cv2

    from sipantau.ocr.digits import _model_bytes, prepare_batch
    from sipantau.samples.handwriting import train_digits

    rng = np.random.default_rng(5)
    digits = train_digits()[0]
    kinds = ["digit"] * 56 + ["x"] * 4 + ["blank"] * 4
    crops = [render_crop(digits[i] if k == "digit" else None, k, rng) for i, k in enumerate(kinds)]
    batch = prepare_batch(crops)
    net = cv2.dnn.readNetFromONNX(np.frombuffer(_model_bytes("digits.onnx"), np.uint8))
    net.setInput(batch)
    ref = np.asarray(net.forward(), np.float32).reshape(len(batch), N_CLASSES)
    assert np.abs(reader.forward(batch) - ref).max() < 1e-4
    assert (reader.logits(crops).argmax(1) == ref.argmax(1)).all()


def test_shifted_moves_the_ink_and_brings_in_bare_paper() -> None:
    from sipantau.ocr.digits import shifted

    batch = np.zeros((2, 1, INPUT_SIZE, INPUT_SIZE), np.float32)
    batch[:, 0, 0, :] = 1.0  # a line along the top edge
    batch[1, 0, 20, 20] = 0.5
    down = shifted(batch, 0, 1)
    assert (down[:, 0, 0] == 0).all() and (down[:, 0, 1] == 1).all()
    assert down[1, 0, 21, 20] == 0.5
    left = shifted(batch, -2, 0)
    assert left[1, 0, 20, 18] == 0.5 and (left[:, 0, :, -2:] == 0).all()
    assert np.array_equal(shifted(shifted(batch, 1, 0), -1, 0)[..., :-1], batch[..., :-1])


def test_views_average_the_shifted_reads_of_unsure_boxes_only(reader: CnnDigitReader) -> None:
    """The shipped model reads a box it is not sure of also shifted a pixel each way and
    averages the logits; a box it is sure of is read once, as cut."""
    from sipantau.ocr.digits import prepare_batch, shifted, softmax

    v = reader.views
    assert len(v.shifts) == 4 and 0 < v.min_error < 1e-2
    images, _ = holdout_digits()
    rng = np.random.default_rng(9)
    crops = [render_crop(images[i], "digit", rng, level=0.8) for i in range(40)]
    crops += [render_crop(None, "x", rng, box_px=(71, 71)) for _ in range(4)]
    batch = prepare_batch(crops)
    plain = reader.forward(batch)
    unsure = 1.0 - softmax(plain).max(axis=1) >= v.min_error
    assert unsure.any() and (~unsure).any()
    views = np.mean([plain] + [reader.forward(shifted(batch, dx, dy)) for dx, dy in v.shifts], 0)
    want = np.where(unsure[:, None], views, plain)
    assert np.abs(reader.logits(crops) - want).max() < 1e-4
    bare = CnnDigitReader(meta={**reader.meta, "views": None})
    assert np.abs(bare.logits(crops) - plain).max() < 1e-5


def test_views_out_of_range_are_a_model_error(reader: CnnDigitReader) -> None:
    for views in ({"shifts": [[9, 0]]}, {"shifts": [["a", 0]]}, {"shifts": [], "min_error": -1}):
        with pytest.raises(DigitModelError):
            CnnDigitReader(meta={**reader.meta, "views": views})


def test_bad_input_and_bad_model_raise_typed_errors() -> None:
    with pytest.raises(DigitInputError):
        prepare(np.zeros((0, 0), np.uint8))
    with pytest.raises(DigitModelError):
        CnnDigitReader(b"not onnx", {"classes": list(CLASSES), "input_size": INPUT_SIZE})
    with pytest.raises(DigitModelError):
        CnnDigitReader(b"", {"classes": ["0"], "input_size": INPUT_SIZE})


def test_pipeline_crops_roundtrip_and_augment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sipantau.ocr.training.data import augment_crop
    from sipantau.ocr.training.pipeline_crops import LABELS, load, save

    assert LABELS["X"] == X_CLASS and LABELS["_"] == BLANK_CLASS and "V" not in LABELS
    rng = np.random.default_rng(5)
    crops = [rng.integers(0, 256, s, dtype=np.uint8) for s in ((89, 77), (101, 101))]
    res = {
        "crops": crops,
        "labels": np.array([3, X_CLASS]),
        "meta": [("a.jpg", "careful", 0), ("b.jpg", "hurried", 1)],
    }
    save(tmp_path / "c.npz", res, {"n": 2})
    got, labels, extra = load(tmp_path / "c.npz")
    assert all(np.array_equal(a, b) for a, b in zip(got, crops, strict=True))
    assert labels.tolist() == [3, X_CLASS] and extra["group"].tolist() == [0, 1]
    aug = augment_crop(crops[0], np.random.default_rng(1))
    assert aug.shape == crops[0].shape and aug.dtype == np.uint8


def test_augment_with_another_pen_changes_the_stroke_width() -> None:
    from sipantau.ocr.training.data import augment_crop

    crop = np.full((80, 70), 220, np.uint8)
    crop[20:60, 33:37] = 40  # a 4 px stroke
    inked = []
    for seed in range(40):
        out = augment_crop(crop, np.random.default_rng(seed), pen=1.0)
        inked.append(int((out < 130).sum()))
    plain = int((augment_crop(crop, np.random.default_rng(0)) < 130).sum())
    assert min(inked) < 0.85 * plain < 1.15 * plain < max(inked)  # finer and broader pens


def test_fitted_temperature_gives_low_ece_on_held_out_crops(reader: CnnDigitReader) -> None:
    """The shipped temperature, fitted on CALIB writers, keeps HOLDOUT crops calibrated."""
    from sipantau.ocr.digits import softmax
    from sipantau.ocr.training.calibrate import batched_logits, ece

    images, labels = holdout_digits()
    rng = np.random.default_rng(21)
    idx = rng.choice(len(images), 300, replace=False)
    crops = [render_crop(images[i], "digit", rng, level=0.5) for i in idx]
    crops += [render_crop(None, "x", rng) for _ in range(30)]
    crops += [render_crop(None, "blank", rng) for _ in range(30)]
    y = np.concatenate([labels[idx], np.full(30, X_CLASS), np.full(30, BLANK_CLASS)])
    logits = batched_logits(reader, crops)
    calibrated = ece(softmax(logits, reader.temperature), y)
    assert calibrated < 0.03, calibrated
    assert ece(reader.predict(crops), y) < 0.03  # the error map on top keeps it so


def test_error_map_raises_claims_to_what_was_seen() -> None:
    """Overconfident probabilities (temperature 1 where the truth is 2): the map fitted on one
    half makes the other half's errors promised match those seen per band, only ever raising
    a claim; without a map nothing changes."""
    from sipantau.ocr.digits import raise_error, softmax
    from sipantau.ocr.training.calibrate import bands, fit_error_map

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, (20000, N_CLASSES))
    logits[np.arange(20000), rng.integers(0, N_CLASSES, 20000)] += rng.uniform(6, 20, 20000)
    labels = np.array([rng.choice(N_CLASSES, p=row) for row in softmax(logits, 2.0)])
    over = softmax(logits, 1.0)
    xs, ys = fit_error_map(over[:10000], labels[:10000])
    assert xs == sorted(xs) and ys == sorted(ys)  # monotone
    fixed = raise_error(over[10000:], xs, ys)
    assert np.allclose(fixed.sum(1), 1.0)
    top, rows = over[10000:].argmax(1), np.arange(10000)
    assert (fixed[rows, top] <= over[10000:][rows, top] + 1e-12).all()  # claims only raised
    assert (fixed[rows, top] >= fixed.max(1) - 1e-12).all()  # and the top class stays on top
    before, after = bands(over[10000:], labels[10000:]), bands(fixed, labels[10000:])
    _, promised, seen = before["0.01..0.1"]
    assert seen > 1.5 * promised  # the temperature-1 claims are overconfident here
    for band in ("0.001..0.01", "0.01..0.1"):
        _, promised, seen = after[band]
        assert seen >= 10 and abs(promised - seen) < 4 * np.sqrt(seen) + 2, after
    assert np.array_equal(raise_error(over, [], []), over)


def test_ece_and_temperature_fit() -> None:
    from sipantau.ocr.digits import softmax
    from sipantau.ocr.training.calibrate import ece, fit_temperature

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (4000, N_CLASSES))
    truth_t = 2.0  # labels drawn from softmax(logits / 2): the fit must find about 2
    p = softmax(logits, truth_t)
    labels = np.array([rng.choice(N_CLASSES, p=row) for row in p])
    assert abs(fit_temperature(logits, labels) - truth_t) < 0.2
    assert ece(softmax(logits, truth_t), labels) < 0.03
    assert ece(softmax(logits, 0.5), labels) > 0.15  # overconfident: a large ECE


def test_a_raised_claim_never_ties_the_top_class_with_its_runner() -> None:
    """A map that would raise every claim to 90 %: each row's claim stops just short of its
    runner-up's share, so the model's top class stays strictly on top (at the exact tie float
    rounding chose either, and a 1e-6 change of the logits moved bench figures)."""
    from sipantau.ocr.digits import raise_error, softmax

    rng = np.random.default_rng(9)
    probs = softmax(rng.normal(0, 3, (2000, N_CLASSES)))
    out = raise_error(probs, [-12.0, 0.0], [0.9, 0.9])
    rows = np.arange(len(out))
    top = probs.argmax(axis=1)
    assert (out.argmax(axis=1) == top).all()
    runner = np.sort(out, axis=1)[:, -2]
    assert (out[rows, top] > runner).all()
    assert np.allclose(out.sum(axis=1), 1.0)
