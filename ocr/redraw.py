"""A registered form's box seen a second way: a window around its writing in the shape and
scale the digit model was taught on.

A box map from another project (`templates add`) may draw boxes twice as tall as wide, written
in with digits a third of the box high; the model learned boxes of the blanko's shape (10 x 12
mm) holding digits 40-100 % of their height, and squeezes every crop to a square. The pipeline
averages the model's belief over both views (`ocr/pipeline.py`): a digit both views agree on
keeps its confidence, one they disagree on goes to review.
"""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr.boxes import CROP_MARGIN
from sipantau.ocr.types import GrayImage

BOX_ASPECT = 10.0 / 12.0  # width / height of the box the model was trained on (synth.BLANKO_BOX)
FILL_H, FILL_W = 0.75, 0.9  # the writing's share of the window's box height (width at most)
INK_LOW, INK_HIGH = 0.15, 0.4  # of the strongest ink: a stroke above LOW reaching HIGH
MIN_HEIGHT = 0.15  # writing lower than this share of the box is a speck: no second view
MAX_HEIGHT = 0.6  # writing at least this tall is in the model's range: no second view
COVER = 0.85  # share of the box's ink the writing found must hold (else it is a fragment)
LINE = 0.9  # a straight run across this share of the crop is a printed line


def ink(gray: GrayImage) -> np.ndarray:
    """Ink in 0..1 of a gray crop: darkness under the local paper brightness."""
    g = gray.astype(np.float32)
    k = max(3, (min(g.shape) // 3) | 1)
    paper = cv2.blur(cv2.dilate(g, np.ones((k, k), np.uint8)), (k, k))
    return np.clip((paper - g) / np.maximum(paper, 1.0), 0.0, 1.0)


def printed_lines(mask: np.ndarray) -> np.ndarray:
    """Straight horizontal and vertical runs across the crop (uint8 0/255), slightly widened."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    for close, run in (((1, 5), (1, int(LINE * w))), ((5, 1), (int(LINE * h), 1))):
        closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones(close, np.uint8))
        out |= cv2.morphologyEx(closed, cv2.MORPH_OPEN, np.ones(run, np.uint8))
    return cv2.dilate(out, np.ones((3, 3), np.uint8))


def writing_box(gray: GrayImage, box_wh: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the writing in a crop cut around a box of `box_wh`, printed lines
    left out; None when there is none, or a speck, or it may be only part of the writing."""
    strength = ink(gray)
    top = float(strength.max())
    if top < 0.08:
        return None
    low = (strength >= INK_LOW * top).astype(np.uint8) * 255
    writing = cv2.bitwise_and(low, cv2.bitwise_not(printed_lines(low)))
    bw, bh = box_wh
    ch, cw = gray.shape
    x0, y0 = (cw - bw) / 2.0, (ch - bh) / 2.0
    n, labels, stats, centres = cv2.connectedComponentsWithStats(writing, connectivity=8)
    strong = np.unique(labels[(strength >= INK_HIGH * top) & (writing > 0)])
    keep = np.zeros(n, bool)
    keep[strong] = True
    keep[0] = False
    inside = (
        (centres[:, 0] >= x0)
        & (centres[:, 0] <= x0 + bw)
        & (centres[:, 1] >= y0)
        & (centres[:, 1] <= y0 + bh)
    )
    keep &= inside & (stats[:, cv2.CC_STAT_AREA] >= max(4, int(0.002 * bw * bh)))
    if not keep.any():
        return None
    ys, xs = np.nonzero(keep[labels])
    found = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    if not MIN_HEIGHT * bh <= found[3] - found[1] < MAX_HEIGHT * bh:
        return None
    inner = np.zeros(writing.shape, bool)
    inner[int(y0 + 0.05 * bh) : int(y0 + 0.95 * bh), int(x0 + 0.05 * bw) : int(x0 + 0.95 * bw)] = 1
    pad = int(round(0.1 * bh))
    near = np.zeros(writing.shape, bool)
    near[max(0, found[1] - pad) : found[3] + pad, max(0, found[0] - pad) : found[2] + pad] = 1
    box_ink = (writing > 0) & inner
    if np.count_nonzero(box_ink & near) < COVER * np.count_nonzero(box_ink):
        return None  # other ink in the box: what was found may be a piece of the writing
    return found


def redraw(crop: GrayImage, box_wh: tuple[int, int]) -> GrayImage | None:
    """A window of `crop` around its writing, shaped and scaled like a training crop; None
    when the crop needs no second view (blank, a speck, writing already of the model's size)."""
    gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    found = writing_box(gray, box_wh)
    if found is None:
        return None
    x0, y0, x1, y1 = found
    vh = max((y1 - y0) / FILL_H, (x1 - x0) / FILL_W / BOX_ASPECT)
    vw = vh * BOX_ASPECT
    m = CROP_MARGIN * vh
    size = (int(round(vw + 2 * m)), int(round(vh + 2 * m)))
    return cv2.getRectSubPix(gray, size, ((x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0))
