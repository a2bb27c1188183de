"""The sample generator: values, handwriting, phone photos, the batch and its truth."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sipantau.samples.fill import fill, random_writer, written_for
from sipantau.samples.handwriting import holdout_digits, split_indices
from sipantau.samples.make import make_samples, tps_codes
from sipantau.samples.photo import blurred, cut_off, inside, take_photo
from sipantau.samples.values import failing_checks, make_values
from sipantau.templates.model import CheckSpec, FieldSpec, LocatorSpec, PageSpec, Template
from sipantau.templates.registry import get_template
from sipantau.templates.render import render

BLANKO = "sipantau-blanko"


@pytest.fixture(scope="module")
def blanko() -> Template:
    return get_template(BLANKO)


def kwk_like() -> Template:
    """A C.HASIL-like layout: voters by L/P/total, ballots, two paslon, valid/invalid."""
    rows = ("dpt", "pemilih_dpt", "pemilih_dptb", "pemilih_dpk", "pemilih_jumlah")
    names = [f"{r}_{s}" for r in rows for s in ("l", "p", "total")]
    names += [
        "surat_diterima",
        "surat_digunakan",
        "surat_rusak",
        "surat_sisa",
        "paslon_1",
        "paslon_2",
        "suara_sah",
        "suara_tidak_sah",
        "suara_total",
    ]
    fields = [
        FieldSpec(name=n, label=n, boxes=[[10 + 38 * (i % 5), 20 + 14 * (i // 5), 10, 12]])
        for i, n in enumerate(names)
    ]
    checks = [f"{r}_l + {r}_p == {r}_total" for r in rows]
    checks += [
        f"pemilih_dpt_{s} + pemilih_dptb_{s} + pemilih_dpk_{s} == pemilih_jumlah_{s}"
        for s in ("l", "p", "total")
    ]
    checks += [
        "pemilih_dpt_total <= dpt_total",
        "suara_total == pemilih_jumlah_total",
        "surat_diterima == surat_digunakan + surat_rusak + surat_sisa",
        "surat_digunakan == pemilih_jumlah_total",
        "paslon_1 + paslon_2 == suara_sah",
        "suara_sah + suara_tidak_sah == suara_total",
    ]
    corners = [[8, 8], [202, 8], [202, 289], [8, 289]]
    return Template(
        id="kwk-like",
        title="C.HASIL-KWK",
        race="walikota",
        page=PageSpec(width=210, height=297),
        locator=LocatorSpec(kind="aruco", corners=corners, mark_size=14),
        fields=fields,
        checks=[CheckSpec(expr=c) for c in checks],
    )


@pytest.mark.parametrize("make_template", [lambda: get_template(BLANKO), kwk_like])
def test_values_satisfy_checks_and_are_plausible(make_template) -> None:
    template = make_template()
    small = zero = 0
    for seed in range(60):
        v = make_values(template, np.random.default_rng(seed), slip_rate=0.0)
        assert v.consistent and v.slip is None
        assert failing_checks(template, v.fields) == []
        dpt = v.fields.get("dpt", v.fields.get("dpt_total"))  # the blanko has no DPT field
        assert dpt is None or 150 <= dpt <= 600
        voters = v.fields.get("gub_pemilih", v.fields.get("pemilih_jumlah_total"))
        low, high = (0.45 * dpt, 0.95 * dpt) if dpt else (0.45 * 150, 0.95 * 600)
        assert voters is not None and low <= voters <= high
        digits = [v.fields[f.name] for f in template.digit_fields]
        assert all(0 <= x <= 999 for x in digits)
        small += sum(0 < x < 10 for x in digits)
        zero += sum(x == 0 for x in digits)
    assert small > 20 and zero > 5  # X and XXX patterns do occur


def test_ticks_one_of_the_situation_set(blanko: Template) -> None:
    for seed in range(20):
        f = make_values(blanko, np.random.default_rng(seed)).fields
        assert f["situasi_aman"] + f["situasi_insiden"] == 1


def test_slip_breaks_a_check_and_is_recorded(blanko: Template) -> None:
    for seed in range(20):
        v = make_values(blanko, np.random.default_rng(seed), slip_rate=1.0)
        assert v.slip is not None and not v.consistent
        assert failing_checks(blanko, v.fields)


def test_written_patterns() -> None:
    rng = np.random.default_rng(0)
    w = random_writer(rng)
    assert written_for(45, 3, w, rng) in ("X45", "_45")
    assert written_for(123, 3, w, rng) == "123"
    assert {written_for(0, 3, w, rng) for _ in range(60)} == {"XXX", "XX0"}
    with pytest.raises(ValueError):
        written_for(1000, 3, w, rng)


def test_fill_writes_only_holdout_digits(blanko: Template) -> None:
    rng = np.random.default_rng(3)
    blank = render(blanko, dpi=150, tps="1673011001-001")
    values = make_values(blanko, rng).fields
    filled = fill(blank, blanko, values, rng)
    train, hold = split_indices()
    _, labels = holdout_digits()
    written = [c for f in blanko.fields if f.kind == "digits" for c in filled.written[f.name]]
    digits = [int(c) for c in written if c.isdigit()]
    assert len(filled.sources) == len(digits) > 20
    assert [int(labels[i]) for i in filled.sources] == digits  # the glyph is the digit written
    originals = set(hold[filled.sources].tolist())
    assert originals.isdisjoint(set(train.tolist()))
    for f in blanko.digit_fields:
        text = filled.written[f.name].replace("X", "").replace("_", "")
        assert int(text or "0") == values[f.name]
    assert (filled.image != blank.image).any()


@pytest.fixture(scope="module")
def photo(blanko: Template):
    rng = np.random.default_rng(11)
    filled = fill(render(blanko, dpi=150), blanko, make_values(blanko, rng).fields, rng)
    return take_photo(filled.image, rng, "hurried", dpi=150)


def test_photo_size_jpeg_and_corners(photo) -> None:
    decoded = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert (decoded.shape[1], decoded.shape[0]) in {
        (4000, 3000),
        (3000, 4000),
        (4032, 3024),
        (3024, 4032),
    }
    assert photo.jpeg[:2] == b"\xff\xd8" and 70 <= photo.quality <= 95
    assert inside(photo)
    # the page is where the corners say: paper (bright) just inside each corner
    centre = photo.corners.mean(0)
    gray = cv2.cvtColor(decoded, cv2.COLOR_BGR2GRAY)
    for c in photo.corners:
        x, y = (c + 0.05 * (centre - c)).astype(int)
        assert gray[y, x] > 120


def test_cut_off_and_blurred(photo) -> None:
    cut = cut_off(photo, np.random.default_rng(0), corner=2)
    assert not inside(cut)
    h, w = cut.image.shape[:2]
    x, y = cut.corners[2]
    assert not (0 <= x < w and 0 <= y < h)
    assert cut.image.shape == photo.image.shape
    soft = blurred(photo, 4.0)
    lap = [
        cv2.Laplacian(cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        for p in (photo, soft)
    ]
    assert lap[1] < lap[0] / 3


def test_tps_codes_distinct_and_shaped() -> None:
    codes = tps_codes(1, 200)
    assert len(set(codes)) == 200
    assert all(len(c) == 14 and c.startswith("1673") and c[10] == "-" for c in codes)


def test_make_samples_deterministic(tmp_path: Path) -> None:
    a = make_samples(BLANKO, 3, tmp_path / "a", seed=9, workers=2)
    b = make_samples(BLANKO, 3, tmp_path / "b", seed=9, workers=1)
    ta, tb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ta == tb and ta["seed"] == 9
    assert [p["level"] for p in ta["photos"]] == ["careful", "normal", "hurried"]
    for rec in ta["photos"]:
        assert (tmp_path / "a" / rec["photo"]).read_bytes() == (
            tmp_path / "b" / rec["photo"]
        ).read_bytes()
        img = cv2.imread(str(tmp_path / "a" / rec["photo"]))
        h, w = img.shape[:2]
        assert all(0 <= x < w and 0 <= y < h for x, y in rec["page_corners"])
        assert rec["template"] == BLANKO and rec["tps"].startswith("1673")
        assert set(rec["fields"]) == set(rec["written"])
    c = json.loads(make_samples(BLANKO, 1, tmp_path / "c", seed=10, level="careful").read_text())
    assert c["photos"][0]["fields"] != ta["photos"][0]["fields"]
