"""Pen strokes for the evaluation generator: a digit's skeleton re-drawn by a pen.

The training generator scales the digit image and thickens or thins it. Here the digit is
thinned to its one-pixel skeleton (Zhang-Suen), the skeleton's pixel graph is mapped through
the writer's geometry (size, aspect, slant, turn, a slow tremor) and every edge is drawn again
as a pen line whose width follows a pressure field and tapers where a stroke ends; then a pen
texture (ballpoint skips, felt-tip bleed, pencil grain, gel) and an ink colour are chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from sipantau.samples.handwriting import Split, split_digits

UP = 4  # the 28 px digit is thinned at 4x
SS = 2  # strokes are drawn at 2x and area-averaged down
PENS: dict[str, tuple[float, float]] = {  # kind -> (width range mm)
    "ballpoint": (0.35, 0.6),
    "gel": (0.45, 0.75),
    "felt": (0.7, 1.2),
    "pencil": (0.35, 0.7),
}
INKS: dict[str, tuple[int, int, int]] = {  # BGR transmittance colours
    "blue": (165, 78, 32),
    "royal-blue": (190, 95, 20),
    "navy": (115, 48, 30),
    "black": (42, 40, 40),
    "graphite": (82, 80, 78),
}


@dataclass(frozen=True)
class Pen:
    """A pen: its kind, ink colour (BGR), width on paper and how hard it is pressed."""

    kind: str
    ink: str
    width_mm: float
    pressure_var: float  # relative width swing along a stroke
    density: float  # peak ink opacity


def random_pen(rng: np.random.Generator) -> Pen:
    kind = str(rng.choice(list(PENS), p=[0.5, 0.2, 0.15, 0.15]))
    if kind == "pencil":
        ink = "graphite"
    else:
        ink = str(rng.choice(["blue", "royal-blue", "navy", "black"], p=[0.35, 0.15, 0.15, 0.35]))
    lo, hi = PENS[kind]
    density = {"ballpoint": (0.82, 0.96), "gel": (0.9, 1.0), "felt": (0.92, 1.0)}
    d_lo, d_hi = density.get(kind, (0.65, 0.88))
    return Pen(
        kind,
        ink,
        float(rng.uniform(lo, hi)),
        float(rng.uniform(0.1, 0.35)),
        float(rng.uniform(d_lo, d_hi)),
    )


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean mask to a one-pixel skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n = [
                p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:],
                p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2],
            ]  # fmt: skip
            b = sum(x.astype(np.int32) for x in n)
            a = sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                c = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                c = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            kill = (p[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1) & c
            if kill.any():
                img[1:-1, 1:-1][kill] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


@dataclass(frozen=True)
class Skeleton:
    """A digit's skeleton: points (N x 2, x y, unit height, centred), edges, end points."""

    points: np.ndarray
    edges: np.ndarray  # M x 2 indices into points
    ends: np.ndarray  # K x 2 end points (one neighbour), same units
    aspect: float  # ink width / height of the original digit


@lru_cache(maxsize=4096)
def skeleton(index: int, split: Split = "holdout") -> Skeleton:
    """The skeleton graph of digit `index` of `split`, normalised to its ink height."""
    images, _ = split_digits(split)
    big = cv2.resize(images[index], (28 * UP, 28 * UP), interpolation=cv2.INTER_LINEAR)
    mask = big > 110
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    sk = thin(mask)
    pys, pxs = np.nonzero(sk)
    ids = -np.ones(sk.shape, np.int64)
    ids[pys, pxs] = np.arange(len(pys))
    edges = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ny, nx = pys + dy, pxs + dx
        ok = (ny < sk.shape[0]) & (nx >= 0) & (nx < sk.shape[1])
        j = np.full(len(pys), -1)
        j[ok] = ids[ny[ok], nx[ok]]
        keep = j >= 0
        edges.append(np.c_[np.flatnonzero(keep), j[keep]])
    e = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    degree = np.bincount(e.ravel(), minlength=len(pys))
    # the stroke runs from the skeleton's ends to the ink's outline: half a stroke width
    half = 0.5 * float(mask.sum()) / max(1, len(pys))
    h = float(y1 - y0)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    pts = (np.c_[pxs, pys] - centre) / max(h - 2 * half, 1.0)
    return Skeleton(pts, e, pts[degree == 1], float(x1 - x0) / h)


def _wave(rng: np.random.Generator, amp: float) -> tuple[np.ndarray, np.ndarray, float]:
    """A random slow 2-D sinusoid (frequency, phase, amplitude): pressure and tremor fields."""
    return rng.normal(0, 2.5, 2), rng.uniform(0, 2 * np.pi, 1), amp


def _eval(wave: tuple[np.ndarray, np.ndarray, float], pts: np.ndarray) -> np.ndarray:
    k, ph, amp = wave
    return amp * np.sin(pts @ k + ph[0])


@dataclass(frozen=True)
class Hand:
    """How one glyph is written: size px, aspect, slant (x += slant * -y), turn in degrees."""

    height: float
    aspect: float
    slant: float
    angle: float
    tremor: float  # tremor amplitude, fraction of height


def draw_skeleton(
    sk: Skeleton, hand: Hand, pen_px: float, pen: Pen, rng: np.random.Generator
) -> np.ndarray:
    """Alpha (float32 0..1) of the skeleton drawn by `pen` in `hand`, with margin."""
    a = np.radians(hand.angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    geo = rot @ np.array([[hand.aspect, -hand.slant], [0.0, 1.0]])
    pts = sk.points @ geo.T
    wobble = np.c_[_eval(_wave(rng, hand.tremor), pts), _eval(_wave(rng, hand.tremor), pts)]
    pts = (pts + wobble) * hand.height
    width = pen_px * (1.0 + _eval(_wave(rng, pen.pressure_var), sk.points))
    if len(sk.ends) and pen.kind != "felt":  # a ballpoint or pencil lifts off thinner
        d = np.min(np.linalg.norm(sk.points[:, None] - sk.ends[None], axis=2), axis=1)
        width *= 0.6 + 0.4 * np.clip(d / 0.15, 0, 1)
    margin = pen_px + 4
    lo = pts.min(0) - margin
    size = np.ceil((pts.max(0) + margin - lo) * SS).astype(int)
    canvas = np.zeros((size[1], size[0]), np.float32)
    q = np.round((pts - lo) * SS * 4).astype(np.int32)  # shift=2: quarter-pixel positions
    for i, j in sk.edges:
        w = max(1, int(round(SS * 0.5 * (width[i] + width[j]))))
        cv2.line(canvas, tuple(q[i]), tuple(q[j]), 1.0, w, cv2.LINE_AA, shift=2)
    return cv2.resize(canvas, (size[0] // SS, size[1] // SS), interpolation=cv2.INTER_AREA)


def polyline(
    points: list[np.ndarray], pen_px: float, pen: Pen, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Alpha of hand-drawn strokes (each an array of x y points in a size x size square)."""
    canvas = np.zeros((size * SS, size * SS), np.float32)
    for stroke in points:
        n = len(stroke)
        press = 1.0 + pen.pressure_var * np.sin(np.linspace(0, np.pi, n) * rng.uniform(0.5, 2))
        q = np.round(stroke * SS * 4).astype(np.int32)
        for k in range(n - 1):
            w = max(1, int(round(SS * pen_px * press[k])))
            cv2.line(canvas, tuple(q[k]), tuple(q[k + 1]), 1.0, w, cv2.LINE_AA, shift=2)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def texture(alpha: np.ndarray, pen: Pen, rng: np.random.Generator) -> np.ndarray:
    """The pen's trace on paper: ballpoint skips, felt-tip bleed, pencil grain, gel."""
    a = np.clip(alpha, 0.0, 1.0)
    if pen.kind == "ballpoint":
        fine = cv2.GaussianBlur(rng.random(a.shape, dtype=np.float32), (0, 0), 1.6)
        a = a * (1.0 - np.clip((fine - 0.52) * 6.0, 0.0, 0.55))
    elif pen.kind == "felt":
        a = cv2.GaussianBlur(a, (0, 0), 0.9)
        bleed = cv2.GaussianBlur(cv2.dilate(a, np.ones((3, 3), np.uint8)), (0, 0), 2.0)
        a = np.maximum(np.clip(a * 1.25, 0, 1), 0.3 * bleed)
    elif pen.kind == "pencil":
        grain = rng.random(a.shape, dtype=np.float32)
        a = a * (0.35 + 0.65 * cv2.GaussianBlur(grain, (0, 0), 0.6))
    return (a * pen.density).astype(np.float32)


def lay(
    image: np.ndarray, alpha: np.ndarray, centre: tuple[float, float], colour: np.ndarray
) -> None:
    """Ink `alpha` centred at `centre` onto `image` in place; ink filters light (multiply)."""
    h, w = alpha.shape
    x0, y0 = int(round(centre[0] - w / 2)), int(round(centre[1] - h / 2))
    ax, ay = max(0, -x0), max(0, -y0)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(image.shape[1], x0 + w - ax), min(image.shape[0], y0 + h - ay)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[ay : ay + y1 - y0, ax : ax + x1 - x0, None]
    region = image[y0:y1, x0:x1].astype(np.float32)
    region *= 1.0 - a * (1.0 - colour[None, None, :] / 255.0)
    image[y0:y1, x0:x1] = np.clip(region, 0, 255).astype(np.uint8)


def smudge(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smear of wet ink or graphite dragged by the hand: shifted, blurred, faint."""
    pad = 14
    a = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    dx, dy = rng.uniform(-9, 9, 2)
    m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    shifted = cv2.warpAffine(a, m, a.shape[::-1])
    smear = cv2.GaussianBlur(shifted, (0, 0), float(rng.uniform(2.5, 5.0)))
    return np.maximum(a, float(rng.uniform(0.12, 0.3)) * smear / max(smear.max(), 1e-3))
