"""The blank form's features: the second chance for corner-mark forms whose marks give no frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sipantau.ocr.decode import decode
from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate import NOT_FOUND, locate, photo_points
from sipantau.ocr.locate_blank import locate_by_blank, qr_payload
from sipantau.ocr.locate_marks import NOT_FLAT
from sipantau.ocr.settings import LocateSettings
from sipantau.templates.registry import get_template

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
WALIKOTA = "c-hasil-kwk-walikota"


def _gray(name: str) -> np.ndarray:
    return decode((SAMPLES / name).read_bytes()).image


def _box_centres(template) -> np.ndarray:
    return np.array([[x + w / 2, y + h / 2] for f in template.fields for x, y, w, h in f.boxes])


@pytest.mark.parametrize("quarter", [0, 2])
def test_the_blank_forms_features_lay_the_boxes_where_the_marks_do(quarter):
    """On a sample photo (upright, and upside down), the page registered to the rendered blank
    puts every number box within 0.5 % of the page width of where the corner marks put it,
    and carries the QR payload that names the form."""
    t = get_template(WALIKOTA)
    img = _gray("c-hasil-kwk-walikota-0002-normal.jpg")
    if quarter:
        img = cv2.rotate(img, cv2.ROTATE_180)
    settings = LocateSettings()
    by_marks = locate(img, t, settings)
    page = locate_by_blank(img, t, settings)
    assert page.method == "blank_features/qr+print"
    assert page.identity is not None and f"|{WALIKOTA}|" in page.identity
    units = _box_centres(t)
    off = np.linalg.norm(photo_points(page, units) - photo_points(by_marks, units), axis=1)
    width = np.linalg.norm(by_marks.photo_quad[1] - by_marks.photo_quad[0])
    assert off.max() < 0.005 * width, off.max() / width


def test_another_forms_photo_is_not_taken_for_the_blank():
    """A blanko photo offered as a C.HASIL sheet: its print does not register as the KWK blank,
    so it is not located, and the monitor is not told to flatten a sheet that is not there."""
    img = _gray("sipantau-blanko-0002-normal.jpg")
    with pytest.raises(PhotoRejected) as exc:
        locate_by_blank(img, get_template(WALIKOTA), LocateSettings())
    assert (exc.value.code, exc.value.message) == NOT_FOUND


def test_a_page_without_its_qr_code_is_not_located():
    """The QR code is the evidence of which form the print is: painted over, no page. The print
    was seen, though, so the monitor is asked to lay the sheet flat and shoot it again."""
    t = get_template(WALIKOTA)
    img = _gray("c-hasil-kwk-walikota-0002-normal.jpg")
    page = locate(img, t)
    x, y, w, h = t.qr
    quad = photo_points(page, np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]))
    cv2.fillConvexPoly(img, quad.astype(np.int32), 255)
    to_units = np.diag([1 / page.scale, 1 / page.scale, 1]) @ page.homography
    assert qr_payload(img, t, to_units) is None
    with pytest.raises(PhotoRejected) as exc:
        locate_by_blank(img, t, LocateSettings())
    assert (exc.value.code, exc.value.message) == NOT_FLAT


def test_the_second_chance_can_be_turned_off(monkeypatch):
    """`blank_features=False`: a photo with no frame of marks is rejected by the marks alone,
    and the blank form's features are never consulted."""
    import sipantau.ocr.locate_blank as blank

    called = []
    monkeypatch.setattr(blank, "locate_by_blank", lambda *a: called.append(a))
    t = get_template(WALIKOTA)
    img = np.full((1200, 900), 200, np.uint8)  # no marks at all
    with pytest.raises(PhotoRejected) as exc:
        locate(img, t, LocateSettings(blank_features=False))
    assert exc.value.code == "form_not_found" and not called


def test_a_photo_whose_qr_names_another_form_skips_the_second_chance(monkeypatch):
    """A blanko photo offered as the walikota sheet: the marks refuse it, its QR code names the
    blanko, and it is sent back as `wrong_form` without registering it to the KWK blank (that
    took 0.5-1 s a photo, for a verdict the QR code gives in 0.1 s)."""
    import sipantau.ocr.locate_blank as blank
    from sipantau.ocr.digits import default_reader
    from sipantau.ocr.pipeline import Reader
    from sipantau.templates.registry import all_templates

    called = []
    monkeypatch.setattr(blank, "locate_by_blank", lambda *a: called.append(a))
    data = (SAMPLES / "sipantau-blanko-0002-normal.jpg").read_bytes()
    r = Reader(all_templates(), default_reader()).read(data, "blanko", WALIKOTA)
    assert r.status == "rejected" and r.reasons[0].code == "wrong_form", r.reasons
    assert "sipantau-blanko" in r.reasons[0].message and not called


SIDE_WORD = {"top": "atas", "bottom": "bawah", "left": "kiri", "right": "kanan"}


@pytest.mark.parametrize("side", list(SIDE_WORD))
def test_half_a_sheet_is_cut_off_on_its_side_even_with_its_qr_code_gone(side):
    """A sample walikota photo cut through the page's middle (as `bench locate` cuts): the marks
    alone cannot tell (with the top or right half gone so are the QR code and the title), but its
    printed lines align on the blank form with number boxes out of the photo: `cut_off`, that
    side named. Not by the marks alone: with the second chance off the top and right halves
    were `form_not_found` ("show the four corners")."""
    import json

    from sipantau.bench.locate import _cut
    from sipantau.ocr.digits import default_reader
    from sipantau.ocr.pipeline import Reader
    from sipantau.templates.registry import all_templates

    name = "c-hasil-kwk-walikota-0002-normal.jpg"
    truth = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))["photos"]
    corners = np.array(next(t for t in truth if t["photo"] == name)["page_corners"])
    data = _cut((SAMPLES / name).read_bytes(), corners, side)
    r = Reader(all_templates(), default_reader()).read(data, "half", WALIKOTA)
    assert r.status == "rejected" and r.reasons[0].code == "cut_off", r.reasons
    assert f"sisi {SIDE_WORD[side]}" in r.reasons[0].message
