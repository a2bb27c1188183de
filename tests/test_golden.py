"""Golden suite: the committed sample photos read by the real digit model, end to end."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sipantau.ocr.digits import default_reader
from sipantau.ocr.pipeline import Reader
from sipantau.templates.registry import all_templates
from tests.update_golden import EXPECTED, PHOTOS, outcome, silent_errors, truth

TRUTH = truth()
GOLDEN = json.loads(EXPECTED.read_text(encoding="utf-8"))["photos"]


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(all_templates(), default_reader())


def _no_silent_error(reading, truth) -> None:
    assert not silent_errors(outcome(reading), truth)
    if reading.status == "ok":
        assert truth["consistent"]
        assert {k: f.value for k, f in reading.fields.items()} == truth["fields"]


def test_every_sample_has_an_expected_outcome():
    assert sorted(GOLDEN) == sorted(t["photo"] for t in TRUTH)
    for t in TRUTH:  # the stored expectations never hold a silent error either
        assert not silent_errors(GOLDEN[t["photo"]], t)


@pytest.mark.parametrize("truth", TRUTH, ids=[t["photo"] for t in TRUTH])
def test_sample_photo(reader, truth):
    """Every field's value and status exactly as tests/golden_expected.json holds them (after a
    change meant to change readings: `python -m tests.update_golden`, and review the diff)."""
    data = (PHOTOS / truth["photo"]).read_bytes()
    reading = reader.read(data, truth["photo"])  # no --template: identified from the photo
    assert reading.status != "rejected", reading.reasons
    assert reading.template == truth["template"]
    assert reading.tps == truth["tps"]
    assert set(reading.fields) == set(truth["fields"])
    _no_silent_error(reading, truth)
    got, want = outcome(reading), GOLDEN[truth["photo"]]
    changed = {k: (want["fields"].get(k), f) for k, f in got["fields"].items()}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    assert not changed, f"fields read otherwise than expected (expected, now): {changed}"
    assert got == want


@pytest.mark.parametrize("turn", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180])
def test_turned_photo_reads_the_same(reader, turn):
    truth = TRUTH[0]
    img = cv2.imread(str(PHOTOS / truth["photo"]))
    upright = reader.read((PHOTOS / truth["photo"]).read_bytes(), "a", truth["template"])
    data = cv2.imencode(".jpg", cv2.rotate(img, turn), [cv2.IMWRITE_JPEG_QUALITY, 92])[1]
    turned = reader.read(data.tobytes(), "b", truth["template"])
    assert turned.status != "rejected"
    same = sum(turned.fields[k].value == f.value for k, f in upright.fields.items())
    assert same >= len(upright.fields) - 1
    _no_silent_error(turned, truth)


def test_blank_form_is_all_review(reader):
    from sipantau.templates.render import render
    from tests.conftest import photograph

    t = all_templates()["sipantau-blanko"]
    reading = reader.read(photograph(render(t, dpi=200, tps="1").image), "blank")
    assert reading.status == "review"
    digits = [f for f in reading.fields.values() if f.kind == "digits"]
    assert all(f.value is None and f.status == "review" for f in digits)


def test_png_bomb_and_non_image_through_the_reader(reader):
    from tests.test_decode import _png_bomb

    assert reader.read(_png_bomb(20000, 20000), "bomb.png").reasons[0].code == "too_many_pixels"
    assert reader.read(b"<html>not a photo</html>", "x.jpg").status == "rejected"
    noise = (np.random.default_rng(1).random((900, 1200)) * 255).astype(np.uint8)
    r = reader.read(cv2.imencode(".png", noise)[1].tobytes(), "noise.png")
    assert r.status == "rejected" and r.fields == {}
