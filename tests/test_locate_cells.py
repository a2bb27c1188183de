"""Number boxes found as rows of ruled cells on another print of a form (ocr/locate_cells.py):
drawn tables, one as the reference and one with taller rows, handwriting in the cells."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr.locate_cells import BoxLayout, cell_runs, ruled_cells

PAGE = (820, 1100)  # w, h
CELL_W, COLS_X = 46, 640  # three number cells a row from x = 640


def _table(row_tops: list[int], row_h: list[int], scribble: bool = False) -> np.ndarray:
    """A page with a ruled table: a wide name column and three number cells on each row."""
    img = np.full((PAGE[1], PAGE[0]), 235, np.uint8)
    x_edges = [40, COLS_X, COLS_X + CELL_W, COLS_X + 2 * CELL_W, COLS_X + 3 * CELL_W]
    bottom = row_tops[-1] + row_h[-1]
    for y, h in zip(row_tops, row_h, strict=True):
        cv2.line(img, (40, y), (x_edges[-1], y), 30, 2)
        cv2.line(img, (40, y + h), (x_edges[-1], y + h), 30, 2)
        for x in x_edges:
            cv2.line(img, (x, y), (x, y + h), 30, 2)
        cv2.putText(img, "NAMA CALON", (120, y + h // 2 + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 40, 2)
        if scribble:  # a "1" from line to line, an X mark, a 7 crossing the box line
            cx = COLS_X + CELL_W // 2
            cv2.line(img, (cx, y), (cx, y + h), 50, 3)
            x2 = COLS_X + CELL_W
            cv2.line(img, (x2 + 4, y + 4), (x2 + CELL_W - 4, y + h - 4), 50, 3)
            cv2.line(img, (x2 + 4, y + h - 4), (x2 + CELL_W - 4, y + 4), 50, 3)
            x3 = COLS_X + 2 * CELL_W
            cv2.line(img, (x3 + 6, y + 8), (x3 + CELL_W + 6, y + 8), 50, 3)
    cv2.rectangle(img, (40, bottom + 40), (780, bottom + 140), 30, 2)  # a signature block
    return img


REF_TOPS, REF_H = [220, 262, 304, 372], [40, 40, 36, 44]
FIELDS = [
    (name, [(COLS_X + 2 + i * CELL_W, top + 2, CELL_W - 4, h - 4) for i in range(3)])
    for name, top, h in zip(["satu", "dua", "jumlah", "tidak_sah"], REF_TOPS, REF_H, strict=True)
]


def _layout() -> BoxLayout:
    layout = BoxLayout.build(_table(REF_TOPS, REF_H), FIELDS)
    assert layout is not None
    return layout


def test_a_row_of_ruled_cells_stays_one_run_under_handwriting():
    """An X mark and a 7 across a line leave their cells whole; a 1 from line to line splits
    its cell, and the row is still one run of cells from its first line to its last."""
    cells = ruled_cells(_table(REF_TOPS, REF_H, scribble=True), 24)
    runs = [r for r in cell_runs(cells, 80) if r[0][0] > COLS_X - 5]
    assert len(runs) == 4
    for r in runs:
        assert len(r) == 4  # the split first cell, then two whole ones
        assert abs(r[-1][0] + r[-1][2] - r[0][0] - (3 * CELL_W - 2)) <= 3


def test_the_reference_finds_its_own_boxes():
    found = _layout().find(_table(REF_TOPS, REF_H))
    assert found is not None
    for name, boxes in FIELDS:
        for got, want in zip(found[name], boxes, strict=True):
            assert np.allclose(got, want, atol=2), (name, got, want)


def test_another_print_with_taller_rows_puts_each_field_in_its_row():
    tops, heights = [244, 310, 378, 437], [64, 66, 42, 46]
    found = _layout().find(_table(tops, heights, scribble=True))
    assert found is not None
    for (name, _), top, h in zip(FIELDS, tops, heights, strict=True):
        for x, y, w, bh in found[name]:
            assert top <= y + bh / 2 <= top + h, name  # in its own row
            assert bh > 0.8 * (h - 4) and COLS_X <= x <= COLS_X + 3 * CELL_W
            assert abs(w - (CELL_W - 4)) <= 3


def test_a_print_with_another_count_of_rows_is_not_guessed():
    """An extra candidate row: no order tells which row is which, so nothing is found."""
    tops, heights = [220, 262, 304, 346, 414], [40, 40, 40, 36, 44]
    assert _layout().find(_table(tops, heights)) is None
    assert _layout().find(_table(REF_TOPS[:3], REF_H[:3])) is None


def test_boxes_that_are_not_ruled_cells_have_no_layout():
    """A box map marking digits in an open area (DKI 2017's totals): no layout to go by."""
    open_field = [("jumlah", [(300.0 + 50 * i, 700.0, 40.0, 40.0) for i in range(3)])]
    assert BoxLayout.build(_table(REF_TOPS, REF_H), FIELDS + open_field) is None


def test_a_large_scan_is_worked_at_the_canonical_width_and_answers_in_its_own_pixels():
    big = cv2.resize(_table(REF_TOPS, REF_H), None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    fields = [(n, [tuple(2.0 * v for v in b) for b in boxes]) for n, boxes in FIELDS]
    layout = BoxLayout.build(big, fields)
    assert layout is not None and layout.size[0] == 1240
    found = layout.find(_table([244, 310, 378, 437], [64, 66, 42, 46]))  # any scale of the page
    assert found is not None
    x, y, w, h = found["satu"][0]
    assert abs(x - 2 * (COLS_X + 2)) <= 6 and abs(y - 2 * 246) <= 6 and abs(w - 2 * 42) <= 6
