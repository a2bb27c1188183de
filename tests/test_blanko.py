"""The blanko's printed text: where the TPS is, one zero rule, instructions large enough, a
filled example as the PDF's second page; and none of it near a box, marker or the QR."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFont

from sipantau.cli import main
from sipantau.ocr.checks import compile_checks
from sipantau.templates.blanko import build_blanko
from sipantau.templates.election import load_election
from sipantau.templates.example import EXAMPLE_QR, example_values, tps_place, written
from sipantau.templates.registry import BUILTIN_DIR, get_template, load_template_file
from sipantau.templates.render import _header_lines, qr_payload

TPS = "1673011001-001"


@pytest.fixture(scope="module")
def blanko():
    return get_template("sipantau-blanko")


def test_shipped_blanko_is_what_the_builder_makes(blanko) -> None:
    assert load_template_file(BUILTIN_DIR / "sipantau-blanko.yaml") == build_blanko(load_election())


def test_one_zero_rule_and_larger_instructions(blanko) -> None:
    texts = [t.text for t in blanko.texts]
    joined = " ".join(texts)
    assert "XXX" not in joined and "X X X" not in joined  # zero follows the rule: X X 0
    assert "nol ditulis X X 0" in joined and "0 = X X 0" in joined
    assert "diisi X" in joined and "7 ditulis X X 7" in joined
    rules = [t for t in blanko.texts if "X" in t.text and t.role == "plain" and t.y < 60]
    assert rules and min(t.size for t in rules) >= 3.0  # was 2.4
    assert any(t.text == "CARA MENGISI" for t in blanko.texts)
    assert (
        sum(t.size >= 3.2 and t.text[:2] in {"1.", "2.", "3.", "4.", "5."} for t in blanko.texts)
        == 5
    )


def _rect(t) -> tuple[float, float, float, float]:
    """A text's box on the page (x, y, w, h) as the renderer draws it (y is its baseline),
    measured with its font at 10 px/mm, plus 3 % for the bold stroke."""
    font = ImageFont.load_default(size=max(8, round(t.size * 1.4 * 10)))
    w = font.getlength(t.text) / 10 * 1.03
    x = t.x - (w / 2 if t.align == "center" else w if t.align == "right" else 0)
    return x, t.y - t.size * 1.4, w, t.size * 1.9


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_no_text_touches_a_box_marker_or_the_qr(blanko) -> None:
    loc = blanko.locator
    side = loc.mark_size
    marks = [
        (cx if i in (0, 3) else cx - side, cy if i in (0, 1) else cy - side, side, side)
        for i, (cx, cy) in enumerate(loc.corners)
    ]
    keep_clear = [tuple(blanko.qr), *marks, *(tuple(b) for f in blanko.fields for b in f.boxes)]
    header = _header_lines(blanko, TPS, tps_place(TPS)) + _header_lines(blanko, None, None)
    for t in [*blanko.texts, *header]:
        r = _rect(t)
        assert r[0] >= 0 and r[0] + r[2] <= blanko.page.width, t.text
        hit = [k for k in keep_clear if _overlap(r, k)]
        assert not hit, (t.text, r, hit)


def test_tps_number_kelurahan_and_kecamatan_beside_the_code(blanko) -> None:
    place = tps_place(TPS)
    assert place == "TPS 001, Kel. Air Kuti, Kec. Lubuklinggau Timur I"
    assert tps_place("1673011001-999") is None and tps_place("nope") is None
    lines = [t.text for t in _header_lines(blanko, TPS, place)]
    assert lines == [place, f"Kode TPS: {TPS}"]
    blank = _header_lines(blanko, None, None)[0].text
    assert "TPS nomor" in blank and "Kelurahan" in blank and "Kecamatan" in blank


def test_example_values_keep_every_rule_and_follow_the_zero_rule(blanko) -> None:
    values = example_values(blanko)
    assert set(values) == {f.name for f in blanko.fields}
    assert all(c.holds(values) for c in compile_checks(blanko.checks))
    assert 0 in values.values() and any(v < 10 for v in values.values() if v)
    assert written(0, 3) == "XX0" and written(7, 3) == "XX7" and written(123, 3) == "123"


def _qr(page: Image.Image) -> str:
    img = cv2.cvtColor(np.array(page.convert("RGB")), cv2.COLOR_RGB2BGR)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    return text


def test_cli_pdf_has_the_filled_example_as_page_two(tmp_path: Path) -> None:
    from pypdf import PdfReader

    out = tmp_path / "blanko.pdf"
    args = ["templates", "render", "sipantau-blanko", "--tps", TPS, "--out", str(out)]
    assert main(args) == 0
    pages = PdfReader(out).pages
    assert len(pages) == 2
    first, second = (Image.open(BytesIO(p.images[0].data)) for p in pages)
    assert _qr(first) == qr_payload("sipantau-blanko", TPS)
    assert _qr(second) == qr_payload("sipantau-blanko", EXAMPLE_QR)  # never a real TPS
    assert _blue(second) > 5000 and _blue(first) == 0  # the example's ballpoint strokes


def _blue(page: Image.Image) -> int:
    rgb = np.array(page.convert("RGB")).astype(int)
    return int(((rgb[..., 2] - rgb[..., 0]) > 60).sum())
