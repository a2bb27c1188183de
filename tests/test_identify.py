"""Identifying the form in a photo: by its QR code, else by its printed title (tesseract)."""

from __future__ import annotations

import numpy as np
import pytest

from sipantau.ocr.identify import FormNotIdentified, identify, match_title, title_score
from sipantau.templates.registry import all_templates
from sipantau.templates.render import render
from tests.test_register import shoot

TPS = "1673021001001"


@pytest.fixture(scope="module")
def templates():
    return list(all_templates().values())


def _page(template, qr: bool = True) -> np.ndarray:
    page = render(template, dpi=150, tps=TPS).image
    if not qr:
        s = 150 / 25.4
        x, y, w, h = (int(round(v * s)) for v in template.qr)
        page[y - 5 : y + h + 5, x - 5 : x + w + 5] = 255
    return page


@pytest.mark.parametrize(
    ("tid", "angle"),
    [
        ("c-hasil-kwk-gubernur", 4.0),
        ("c-hasil-kwk-walikota", 183.0),
        ("c-hasil-kwk-walikota", 92.0),
        ("sipantau-blanko", 268.0),
    ],
)
def test_identified_by_qr(templates, tid, angle):
    t = next(t for t in templates if t.id == tid)
    photo, _ = shoot(_page(t), angle, scale=0.75, blur=0.8, seed=int(angle))
    found = identify(photo, templates)
    assert (found.template_id, found.tps, found.method) == (tid, TPS, "qr")


@pytest.mark.parametrize(
    ("tid", "angle"), [("c-hasil-kwk-gubernur", 182.0), ("c-hasil-kwk-walikota", 3.0)]
)
def test_identified_by_title_without_qr(templates, tid, angle):
    t = next(t for t in templates if t.id == tid)
    photo, _ = shoot(_page(t, qr=False), angle, scale=0.75, blur=1.0, seed=int(angle))
    found = identify(photo, templates)
    assert (found.template_id, found.tps, found.method) == (tid, None, "title")


def test_blank_photo_is_not_identified(templates):
    photo = np.full((900, 1200), 200, np.uint8)
    with pytest.raises(FormNotIdentified) as err:
        identify(photo, templates)
    assert err.value.code == "form_not_identified" and "formulir" in err.value.message


def test_title_matching_tolerates_ocr_noise(templates):
    assert title_score("MODEL C.HASIL-KWK GUBERNUR", "xx MODEL C HASIL-KWK GUBERNUR yy") == 1.0
    hit = match_title("R COME ASIL KWK GUBE UR TPS", templates)  # a tilted page's reading
    assert hit is None or hit[0].id == "c-hasil-kwk-gubernur"
    hit = match_title("M0DEL C.HASIL-KWK WALlKOTA\nPILKADA", templates)
    assert hit is not None and hit[0].id == "c-hasil-kwk-walikota"
    assert match_title("DATA PEMILIH", templates) is None
