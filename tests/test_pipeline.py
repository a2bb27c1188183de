"""The whole reader on generated photos, with an oracle digit reader (tests the pipeline)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sipantau.ocr.pipeline import Reader
from sipantau.ocr.types import CLASSES, N_CLASSES, REVIEW, Reason
from sipantau.samples.make import make_samples
from sipantau.templates.registry import all_templates


class OracleReader:
    """Answers each crop with the truth, in the order the pipeline cuts boxes (template order)."""

    def __init__(self, labels: list[str], confidence: float = 0.9999) -> None:
        self.labels = labels
        self.confidence = confidence
        self.calls = 0

    def predict(self, crops):
        assert len(crops) == len(self.labels)
        self.calls += 1
        out = np.full((len(crops), N_CLASSES), (1 - self.confidence) / (N_CLASSES - 1))
        for i, label in enumerate(self.labels):
            out[i, CLASSES.index(label)] = self.confidence
        return out


def _labels(template, written: dict[str, str]) -> list[str]:
    out = []
    for f in template.fields:
        for ch in written[f.name]:
            out.append(ch if ch.isdigit() else "X" if ch in "XV" else "")
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("photos")
    make_samples("sipantau-blanko", 3, out, seed=7, level="normal", slip_rate=0.0)
    truth = json.loads((out / "truth.json").read_text())["photos"]
    return out, truth


def _reader(truth) -> Reader:
    templates = all_templates()
    return Reader(templates, OracleReader(_labels(templates[truth["template"]], truth["written"])))


def test_consistent_form_read_right_is_ok(samples):
    out, truth = samples
    for t in truth:
        reading = _reader(t).read((out / t["photo"]).read_bytes(), t["photo"])
        assert reading.template == "sipantau-blanko"  # identified without --template
        assert reading.tps == t["tps"]  # from the QR code
        assert reading.status == "ok", reading.reasons
        assert {k: f.value for k, f in reading.fields.items()} == t["fields"]
        exported = reading.export()
        assert set(exported) == {"photo", "template", "status", "reasons", "fields", "ms", "tps"}
        one = exported["fields"]["gub_suara_sah"]
        assert set(one) == {
            "value",
            "confidence",
            "status",
            "reasons",
            "suggestion",
            "corrected",
            "read_value",
        }


def test_a_misread_digit_is_never_ok(samples):
    out, truth = samples
    t = truth[0]
    reader = _reader(t)
    labels = reader.digits.labels
    i = next(i for i, lab in enumerate(labels) if lab.isdigit() and lab not in "17")
    labels[i] = "7" if labels[i] != "7" else "1"  # a confident misread, as Sirekap's 3 -> 8
    reading = reader.read((out / t["photo"]).read_bytes(), t["photo"], "sipantau-blanko")
    assert reading.status == "review"
    wrong = [k for k, f in reading.fields.items() if f.value != t["fields"][k]]
    assert wrong and all(reading.fields[k].status == "review" for k in wrong)
    codes = [r.code for r in reading.reasons]
    assert codes[0] == "fields_to_review" and "rule_broken" in codes, reading.reasons
    assert reading.reasons[0].message.endswith("kolom perlu diperiksa")


def test_reasons_stored_as_strings_read_as_reasons():
    """Readings stored before reasons were typed hold `code: message` strings."""
    assert Reason.of("blurry: foto buram, ulangi") == Reason("blurry", "foto buram, ulangi")
    assert Reason.of({"code": "cut_off", "message": "terpotong"}) == Reason("cut_off", "terpotong")
    assert Reason.of("3 kolom perlu diperiksa") == Reason(REVIEW, "3 kolom perlu diperiksa")
    assert Reason.of("R5: jumlah tidak sama").message == "R5: jumlah tidak sama"
    assert Reason.of(Reason("x", "y").export()) == Reason("x", "y")


def test_blurred_photo_is_rejected_with_reason(samples):
    out, truth = samples
    import cv2

    t = truth[1]
    img = cv2.imread(str(out / t["photo"]))
    data = cv2.imencode(".jpg", cv2.GaussianBlur(img, (0, 0), 9.0))[1].tobytes()
    reading = _reader(t).read(data, "blur.jpg", "sipantau-blanko")
    assert reading.status == "rejected"
    assert reading.reasons and reading.reasons[0].code in ("blurry", "form_not_found")
    assert "buram" in reading.reasons[0].message or "tidak ditemukan" in reading.reasons[0].message
    assert reading.fields == {}


def test_cut_off_photo_is_rejected(samples):
    out, truth = samples
    import cv2

    t = truth[2]
    img = cv2.imread(str(out / t["photo"]))
    corners = np.array(t["page_corners"])
    bottom = corners[:, 1].max()
    shot = img[: int(bottom - 0.2 * (bottom - corners[:, 1].min()))]  # the page's foot is cut
    data = cv2.imencode(".jpg", shot)[1].tobytes()
    reading = _reader(t).read(data, "cut.jpg", "sipantau-blanko")
    assert reading.status == "rejected"
    assert any(r.code in ("cut_off", "form_not_found") for r in reading.reasons)


def test_wrong_template_is_rejected_with_the_form_it_is(samples):
    out, truth = samples
    t = truth[0]
    reading = _reader(t).read((out / t["photo"]).read_bytes(), t["photo"], "c-hasil-kwk-walikota")
    assert reading.status == "rejected"
    assert reading.reasons[0].code == "wrong_form"
    assert "sipantau-blanko" in reading.reasons[0].message
    assert reading.export()["reasons"][0] == reading.reasons[0].export()


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"\xff\xd8\xff\xe0" + b"\0" * 50])
def test_junk_is_rejected_not_raised(data):
    reading = Reader(all_templates(), OracleReader([])).read(data, "junk")
    assert reading.status == "rejected" and reading.reasons


def test_a_stage_that_breaks_does_not_stop_the_batch(samples):
    class Broken:
        def predict(self, crops):
            raise RuntimeError("model file damaged")

    out, truth = samples
    reading = Reader(all_templates(), Broken()).read((out / truth[0]["photo"]).read_bytes(), "x")
    assert reading.status == "rejected" and reading.reasons[0].code == "processing_failed"
