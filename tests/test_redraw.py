"""The second view of a registered form's box (`ocr/redraw.py`): a window around small writing,
in the model's box shape; no second view of a blank box, a speck or writing already of size."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr import redraw
from sipantau.ocr.boxes import CROP_MARGIN

BOX = (42, 93)  # w, h: a Pilpres 2014 box at the reader's scale, twice as tall as wide


def _crop(digit_h: int = 0, speck: bool = False) -> np.ndarray:
    """A box crop as cut_boxes cuts it: paper, table lines across it at the box's borders."""
    w, h = BOX
    m = int(round(CROP_MARGIN * max(w, h)))
    img = np.full((h + 2 * m, w + 2 * m), 215, np.uint8)
    for x in (m, m + w):
        cv2.line(img, (x, 0), (x, img.shape[0] - 1), 60, 2)
    for y in (m, m + h):
        cv2.line(img, (0, y), (img.shape[1] - 1, y), 60, 2)
    if digit_h:
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, digit_h, 2)
        (tw, th), _ = cv2.getTextSize("7", cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        org = (m + (w - tw) // 2, m + (h + th) // 2)
        cv2.putText(img, "7", org, cv2.FONT_HERSHEY_SIMPLEX, scale, 40, 2, cv2.LINE_AA)
    if speck:
        cv2.circle(img, (m + w // 2, m + h // 2), 1, 40, -1)
    return img


def _ink_height(img: np.ndarray) -> int:
    ys = np.nonzero((img < 128).any(axis=1))[0]
    return int(ys.max() - ys.min() + 1)


def test_small_writing_in_a_tall_box_is_seen_at_the_model_scale() -> None:
    crop = _crop(digit_h=28)
    view = redraw.redraw(crop, BOX)
    assert view is not None
    h, w = view.shape
    box_h = h / (1 + 2 * CROP_MARGIN)
    assert abs(w / h - (redraw.BOX_ASPECT + 2 * CROP_MARGIN) / (1 + 2 * CROP_MARGIN)) < 0.05
    core = view[int(0.1 * h) : int(0.9 * h), int(0.2 * w) : int(0.8 * w)]  # clear of table lines
    assert abs(_ink_height(core) / box_h - redraw.FILL_H) < 0.12


def test_no_second_view_without_writing_of_the_wrong_size() -> None:
    assert redraw.redraw(_crop(), BOX) is None  # only the printed lines
    assert redraw.redraw(_crop(speck=True), BOX) is None  # a speck is not writing
    assert redraw.redraw(_crop(digit_h=80), BOX) is None  # already 86 % of the box high


def test_a_vertical_table_line_is_not_writing() -> None:
    mask = np.zeros((100, 60), np.uint8)
    mask[:, 20:22] = 255  # a printed line, broken by the threshold in one place
    mask[50:52, 20:22] = 0
    mask[30:60, 40:43] = 255  # a short stroke
    lines = redraw.printed_lines(mask)
    assert lines[:, 20].all() and not lines[30:60, 41].any()
