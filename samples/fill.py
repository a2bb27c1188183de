"""Fills a rendered blank form with real handwriting (holdout MNIST digits) by one "writer".

Digits come ONLY from `holdout_digits()`, never the training split. Unused leading boxes get a
hand-drawn X (rarely left blank), zero is XXX (sometimes XX0), ticks are an X or a check mark.
`written` records what is in each box, one character a box: a digit, `X`, `V` (check mark) or
`_` (left blank).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from sipantau.samples.handwriting import Split, split_digits
from sipantau.templates.model import Template
from sipantau.templates.render import Rendered

PENS = {"blue": (150, 62, 28), "black": (38, 34, 34), "dark-blue": (95, 38, 30)}  # BGR
BLANK = "_"


@dataclass(frozen=True)
class Writer:
    """One officer's hand: pen, stroke, size, slant, how carefully they stay in the boxes."""

    pen: str
    stroke_mm: float  # line width on paper
    size: float  # glyph height / box height
    slant: float  # horizontal shear (x += slant * -y)
    aspect: float  # width stretch
    jitter: float  # per-glyph position noise, fraction of box side
    bias: tuple[float, float]  # habitual off-centre shift, fraction of box side
    overflow_rate: float  # glyphs that touch or cross the box border
    zero_xxx: float  # zero as XXX rather than XX0
    blank_lead_rate: float  # a leading box left blank instead of X
    pool: dict[int, list[int]]  # indices (into its split) this writer's digits look like
    split: Split = "holdout"  # samples and the benchmark write holdout digits only


@dataclass(frozen=True)
class Filled:
    image: np.ndarray  # BGR uint8, the rendered page with ink
    fields: dict[str, int | None]
    written: dict[str, str]
    sources: list[int]  # indices into holdout_digits() of every digit written
    writer: Writer


@lru_cache(maxsize=2)
def _by_label(split: Split = "holdout") -> dict[int, np.ndarray]:
    _, labels = split_digits(split)
    return {d: np.flatnonzero(labels == d) for d in range(10)}


def random_writer(rng: np.random.Generator, split: Split = "holdout") -> Writer:
    pen = str(rng.choice(list(PENS), p=[0.55, 0.3, 0.15]))
    pool = {
        d: [int(i) for i in rng.choice(idx, size=4, replace=False)]
        for d, idx in _by_label(split).items()
    }
    return Writer(
        pen=pen,
        stroke_mm=float(rng.uniform(0.35, 0.9)),
        size=float(rng.uniform(0.5, 0.95)),
        slant=float(rng.normal(0.08, 0.12)),
        aspect=float(rng.uniform(0.8, 1.2)),
        jitter=float(rng.uniform(0.02, 0.08)),
        bias=(float(rng.normal(0, 0.06)), float(rng.normal(0, 0.06))),
        overflow_rate=float(rng.uniform(0.0, 0.1)),
        zero_xxx=0.8,
        blank_lead_rate=0.03,
        pool=pool,
        split=split,
    )


@lru_cache(maxsize=4096)
def digit_ink(index: int, split: Split = "holdout") -> np.ndarray:
    """Digit `index` of a split as ink alpha (float32 0..1), cropped to its ink."""
    images, _ = split_digits(split)
    img = images[index]
    ys, xs = np.nonzero(img > 40)
    return img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0


def restroke(ink28: np.ndarray, size: tuple[int, int], width: float) -> np.ndarray:
    """The digit scaled to `size` (w, h) as written, its strokes thickened or thinned toward a
    pen `width` px wide (MNIST strokes are about 0.13 of the digit's height), with margin."""
    alpha = cv2.resize(ink28, size, interpolation=cv2.INTER_CUBIC)
    alpha = np.clip((alpha - 0.3) / 0.4, 0.0, 1.0)
    m = int(np.ceil(width)) + 2
    alpha = cv2.copyMakeBorder(alpha, m, m, m, m, cv2.BORDER_CONSTANT, value=0)
    natural = 0.13 * size[1]
    delta = int(round((max(width, 3.0) - natural) / 2))
    delta = max(delta, -int(0.2 * natural))  # erosion past that breaks the thinner strokes
    if delta:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(delta) + 1,) * 2)
        alpha = cv2.dilate(alpha, k) if delta > 0 else cv2.erode(alpha, k)
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    return np.clip(alpha / max(float(alpha.max()), 1e-3) * 1.3, 0.0, 1.0).astype(np.float32)


def _shear(alpha: np.ndarray, slant: float, angle: float) -> np.ndarray:
    """Slant and rotate a glyph about its centre, on a canvas big enough to keep it."""
    h, w = alpha.shape
    pad = int(0.35 * max(h, w)) + 2
    canvas = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = np.array([canvas.shape[1] / 2, canvas.shape[0] / 2])
    rot = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, 1.0)
    shear = np.array([[1.0, -slant, slant * c[1]], [0.0, 1.0, 0.0]])
    m = rot[:, :2] @ shear[:, :2]
    t = rot[:, :2] @ shear[:, 2] + rot[:, 2]
    return cv2.warpAffine(
        canvas, np.hstack([m, t[:, None]]), canvas.shape[::-1], flags=cv2.INTER_LINEAR
    )


def digit_glyph(
    index: int,
    height: float,
    max_width: float,
    stroke_px: float,
    writer: Writer,
    rng: np.random.Generator,
) -> np.ndarray:
    """Alpha (float32 0..1) of holdout digit `index`, about `height` px tall, in the writer's
    hand: scaled as written, strokes brought toward the writer's pen, narrowed to fit."""
    ink28 = digit_ink(index, writer.split)
    h = max(height, 4.0)
    w = ink28.shape[1] * h / ink28.shape[0] * writer.aspect * rng.uniform(0.93, 1.07)
    w = min(w, max(max_width, 4.0) * rng.uniform(0.85, 1.0))
    glyph = restroke(ink28, (max(2, int(round(w))), int(round(h))), stroke_px)
    angle = float(rng.normal(0, 4))
    return _shear(glyph, writer.slant + float(rng.normal(0, 0.04)), angle)


def _stroke(canvas: np.ndarray, p0: np.ndarray, p1: np.ndarray, bend: float, width: int) -> None:
    """One slightly curved pen stroke from p0 to p1 (quadratic Bezier)."""
    mid = (p0 + p1) / 2 + bend * np.array([-(p1 - p0)[1], (p1 - p0)[0]])
    t = np.linspace(0, 1, 24)[:, None]
    pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * mid + t**2 * p1
    cv2.polylines(
        canvas, [np.round(pts * 4).astype(np.int32)], False, 1.0, width, cv2.LINE_AA, shift=2
    )


def x_mark(rng: np.random.Generator, size: int, stroke: int = 6) -> np.ndarray:
    """A hand-drawn X as alpha (float32 size x size): two strokes, varied."""
    canvas = np.zeros((size, size), np.float32)
    m = size * 0.2
    for start, end in (((m, m), (size - m, size - m)), ((size - m, m), (m, size - m))):
        p0 = np.array(start) + rng.normal(0, size * 0.07, 2)
        p1 = np.array(end) + rng.normal(0, size * 0.07, 2)
        _stroke(canvas, p0, p1, float(rng.normal(0, 0.08)), stroke)
    return canvas


def check_mark(rng: np.random.Generator, size: int, stroke: int = 6) -> np.ndarray:
    """A hand-drawn check mark as alpha: a short stroke down, a long one up."""
    canvas = np.zeros((size, size), np.float32)
    a = np.array([0.2, 0.55]) * size + rng.normal(0, size * 0.04, 2)
    b = np.array([0.42, 0.8]) * size + rng.normal(0, size * 0.04, 2)
    c = np.array([0.85, 0.15]) * size + rng.normal(0, size * 0.06, 2)
    _stroke(canvas, a, b, float(rng.normal(0, 0.05)), stroke)
    _stroke(canvas, b, c, float(rng.normal(0, 0.08)), stroke)
    return canvas


def ink(
    image: np.ndarray,
    alpha: np.ndarray,
    center: tuple[float, float],
    pen: str,
    rng: np.random.Generator,
) -> None:
    """Blend `alpha` centred at `center` into `image` as (1 - a) * paper + a * pen, in place."""
    h, w = alpha.shape
    x0, y0 = int(round(center[0] - w / 2)), int(round(center[1] - h / 2))
    ax0, ay0 = max(0, -x0), max(0, -y0)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(image.shape[1], x0 + w - ax0), min(image.shape[0], y0 + h - ay0)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[ay0 : ay0 + y1 - y0, ax0 : ax0 + x1 - x0]
    a = cv2.GaussianBlur(a, (3, 3), 0.7) * float(rng.uniform(0.82, 0.97))
    skips = cv2.GaussianBlur(rng.random(a.shape, dtype=np.float32), (0, 0), 1.2)
    a = a * (1.0 - 0.5 * np.clip(skips - 0.5, 0, 1))  # ballpoint pressure varies
    region = image[y0:y1, x0:x1].astype(np.float32)
    colour = np.array(PENS[pen], np.float32) + rng.normal(0, 6, 3).astype(np.float32)
    region = region * (1.0 - a[..., None]) + colour * a[..., None]
    image[y0:y1, x0:x1] = np.clip(region, 0, 255).astype(np.uint8)


def written_for(value: int, n_boxes: int, writer: Writer, rng: np.random.Generator) -> str:
    """What an officer writes in `n_boxes` boxes for `value`: "X45", "XXX", "_12", ..."""
    digits = str(value)
    if len(digits) > n_boxes:
        raise ValueError(f"{value} does not fit in {n_boxes} boxes")
    if value == 0:
        return "X" * n_boxes if rng.random() < writer.zero_xxx else "X" * (n_boxes - 1) + "0"
    lead = BLANK if rng.random() < writer.blank_lead_rate else "X"
    return lead * (n_boxes - len(digits)) + digits


def _glyph_for(
    char: str,
    box: list[int],
    stroke: float,
    writer: Writer,
    rng: np.random.Generator,
    sources: list[int],
) -> np.ndarray | None:
    box_w, box_h = float(box[2]), box[3]
    size = box_h * writer.size * float(rng.uniform(0.92, 1.05))
    if rng.random() < writer.overflow_rate:
        size, box_w = box_h * float(rng.uniform(0.95, 1.15)), box_w * 1.2
    if char.isdigit():
        index = int(rng.choice(writer.pool[int(char)]))
        sources.append(index)
        return digit_glyph(index, size, box_w * 1.05, stroke, writer, rng)
    s, st = int(size * rng.uniform(0.8, 1.05)), max(2, int(round(stroke)))
    if char == "X":
        return x_mark(rng, max(8, s), st)
    if char == "V":
        return check_mark(rng, max(8, s), st)
    return None


def _write_box(
    image: np.ndarray,
    box: list[int],
    char: str,
    stroke: float,
    writer: Writer,
    rng: np.random.Generator,
    sources: list[int],
) -> None:
    x, y, w, h = box
    glyph = _glyph_for(char, box, stroke, writer, rng, sources)
    if glyph is None:
        return
    side = min(w, h)
    dx = (writer.bias[0] + rng.normal(0, writer.jitter)) * side
    dy = (writer.bias[1] + rng.normal(0, writer.jitter)) * side
    ink(image, glyph, (x + w / 2 + dx, y + h / 2 + dy), writer.pen, rng)


def fill(
    rendered: Rendered,
    template: Template,
    values: dict[str, int],
    rng: np.random.Generator,
    writer: Writer | None = None,
) -> Filled:
    """Write `values` into the rendered blank: digits, X for unused boxes, ticks."""
    writer = writer or random_writer(rng)
    image = rendered.image.copy()
    boxes = {f["name"]: f["boxes"] for f in rendered.box_map["fields"]}
    stroke = writer.stroke_mm * rendered.scale if template.page.unit == "mm" else 6.0
    written: dict[str, str] = {}
    sources: list[int] = []
    for f in template.fields:
        value = values.get(f.name)
        if value is None:
            written[f.name] = BLANK * len(f.boxes)
            continue
        if f.kind == "tick":
            text = ("X" if rng.random() < 0.6 else "V") if value else BLANK
        else:
            text = written_for(int(value), len(f.boxes), writer, rng)
        for box, char in zip(boxes[f.name], text, strict=True):
            _write_box(image, box, char, stroke, writer, rng, sources)
        written[f.name] = text
    fields: dict[str, int | None] = {f.name: values.get(f.name) for f in template.fields}
    return Filled(image, fields, written, sources, writer)
