"""The C.HASIL-KWK templates: layout, the R1-R7 checks, the shipped YAML and the rendering."""

from __future__ import annotations

import cv2
import pytest

from sipantau.templates.election import load_election
from sipantau.templates.kwk import build_all
from sipantau.templates.registry import BUILTIN_DIR, load_template_file
from sipantau.templates.render import parse_qr_payload, render

GOOD = {  # a consistent TPS: 250 on the DPT, 200 of them vote, 3 DPTb, 2 DPK
    "dpt_l": 120,
    "dpt_p": 130,
    "dpt_jml": 250,
    "pemilih_dpt_l": 95,
    "pemilih_dpt_p": 105,
    "pemilih_dpt_jml": 200,
    "dptb_l": 2,
    "dptb_p": 1,
    "dptb_jml": 3,
    "dpk_l": 1,
    "dpk_p": 1,
    "dpk_jml": 2,
    "pengguna_l": 98,
    "pengguna_p": 107,
    "pengguna_jml": 205,
    "ss_diterima": 257,
    "ss_digunakan": 205,
    "ss_rusak": 2,
    "ss_sisa": 50,
    "paslon_1": 90,
    "paslon_2": 70,
    "paslon_3": 40,
    "suara_sah": 200,
    "suara_tidak_sah": 5,
    "jumlah_suara": 205,
}


@pytest.fixture(scope="module")
def kwk():
    return build_all(load_election())


def _failing(template, values) -> set[str]:
    return {c.rule for c in template.checks if not eval(c.expr, {}, dict(values))}  # noqa: S307


def test_one_template_per_race_matches_the_shipped_yaml(kwk):
    assert [t.id for t in kwk] == ["c-hasil-kwk-gubernur", "c-hasil-kwk-walikota"]
    for t in kwk:
        assert load_template_file(BUILTIN_DIR / f"{t.id}.yaml") == t
        titles = [x.text for x in t.texts if x.role == "title"]
        assert titles == [f"MODEL C.HASIL-KWK {t.race.upper()}"]
        assert t.locator.kind == "corner_marks" and len(t.locator.corners) == 4
        assert t.qr is not None and t.qr[0] > t.page.width / 2


def test_fields_and_boxes(kwk):
    t = kwk[0]
    assert {f.name for f in t.fields} == set(GOOD)
    boxes = [b for f in t.fields for b in f.boxes]
    assert len(boxes) == 75 and all(len(f.boxes) == 3 for f in t.fields)
    assert all(10.0 <= w <= 12.0 and w == h for _, _, w, h in boxes)
    for i, (x, y, w, h) in enumerate(boxes):  # no two boxes overlap
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    mark = t.locator.mark_size + 7.0
    assert all(mark < y < t.page.height - mark - h for _, y, _, h in boxes)


def test_every_rule_holds_on_a_good_form_and_catches_its_error(kwk):
    t = kwk[0]
    assert {c.rule for c in t.checks} == {f"R{i}" for i in range(1, 8)}
    assert all(c.message.startswith(c.rule + ":") for c in t.checks)
    assert _failing(t, GOOD) == set()
    broken = {
        "R1": {"dpt_p": 131},
        "R2": {
            "pemilih_dpt_l": 125,
            "pemilih_dpt_p": 135,
            "pemilih_dpt_jml": 260,
            "pengguna_l": 128,
            "pengguna_p": 137,
            "pengguna_jml": 265,
        },
        "R3": {"ss_sisa": 51},
        "R4": {"ss_digunakan": 204, "ss_sisa": 51},
        "R5": {"paslon_3": 41},
        "R6": {"suara_tidak_sah": 6},
    }
    for rule, change in broken.items():
        assert rule in _failing(t, GOOD | change), rule
    assert "R7" in _failing(
        t,
        GOOD
        | {
            "dpt_l": 70,
            "dpt_p": 70,
            "dpt_jml": 140,
            "pemilih_dpt_l": 70,
            "pemilih_dpt_p": 70,
            "pemilih_dpt_jml": 140,
        },
    )


def test_rendered_page_carries_its_qr(kwk):
    r = render(kwk[1], dpi=150, tps="1673021001001")
    assert r.image.shape[:2] == (1754, 1240)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(r.image)
    assert parse_qr_payload(text) == ("c-hasil-kwk-walikota", "1673021001001")
    assert len(r.box_map["fields"]) == 25
