"""Paper for the evaluation generator: print tone, off-white stock, fibre texture, creases.

`printed` is applied to the rendered blank before the officer writes (toner is never quite
black, copies are greyer); `sheet` to the written page (the stock's tint and texture filter
ink and print alike) and it returns the creases, which the camera also bends in 3-D.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STOCKS = {  # BGR tint of the paper under white light
    "white": (252, 253, 253),
    "cream": (226, 243, 250),
    "grey-recycled": (228, 232, 234),
    "blue-white": (254, 246, 240),
    "yellowed": (205, 232, 244),
}


@dataclass(frozen=True)
class Crease:
    """A fold line across the sheet: axis 0 is a vertical line at x = pos, 1 horizontal."""

    axis: int
    pos: float  # page px
    height: float  # how far the ridge stands up, page px
    sign: float  # valley (-1) or ridge (+1) seen from the camera


@dataclass(frozen=True)
class Sheet:
    image: np.ndarray  # BGR uint8
    stock: str
    creases: list[Crease]


def printed(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The blank as it came out of a printer or copier: black lifted, a faint banding."""
    black = float(rng.uniform(10, 70))
    out = cv2.convertScaleAbs(page, alpha=(255.0 - black) / 255.0, beta=black)
    if rng.random() < 0.3:  # a worn drum leaves light bands down the page
        h, w = page.shape[:2]
        row = 1.0 - 0.05 * np.sin(np.linspace(0, rng.uniform(3, 12) * np.pi, w))
        band = cv2.resize((row * 200).astype(np.float32)[None, :], (w, h))
        band8 = cv2.merge([band.astype(np.uint8)] * 3)
        out = 255 - cv2.multiply(255 - out, band8, scale=1 / 200)
    return out


def _fibres(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Multiplicative paper texture around 1: cloudy pulp and fine tooth."""
    h, w = shape
    cloud = cv2.resize(rng.standard_normal((h // 64 + 2, w // 64 + 2), np.float32), (w, h))
    tooth = rng.standard_normal((h, w), np.float32)
    return 1.0 + rng.uniform(0.005, 0.025) * cloud + rng.uniform(0.004, 0.015) * tooth


def random_creases(rng: np.random.Generator, size: tuple[int, int]) -> list[Crease]:
    """None, one or two folds: in half, in thirds, or a corner dog-ear line along an edge."""
    w, h = size
    roll = rng.random()
    if roll < 0.55:
        return []
    if roll < 0.8:
        axis = int(rng.random() < 0.75)
        return [Crease(axis, (w, h)[axis] * rng.uniform(0.47, 0.53), *_ridge(rng))]
    if roll < 0.93:
        return [Crease(1, h * f + rng.normal(0, 8), *_ridge(rng)) for f in (1 / 3, 2 / 3)]
    return [
        Crease(1, h * rng.uniform(0.45, 0.55), *_ridge(rng)),
        Crease(0, w * rng.uniform(0.45, 0.55), *_ridge(rng)),
    ]


def _ridge(rng: np.random.Generator) -> tuple[float, float]:
    return float(rng.uniform(5, 40)), float(rng.choice([-1.0, 1.0]))


def _crease_shading(shape: tuple[int, int], creases: list[Crease], rng) -> np.ndarray:
    """Light across each fold: one side brighter, a dark line in the crease, flat panels."""
    h, w = shape
    field = np.ones((h, w), np.float32)
    for c in creases:
        coord = np.arange((w, h)[c.axis], dtype=np.float32) - c.pos
        width = float(rng.uniform(1.0, 2.5))
        line = 1.0 - float(rng.uniform(0.08, 0.25)) * np.exp(-0.5 * (coord / width) ** 2)
        side = 1.0 + c.sign * float(rng.uniform(0.01, 0.05)) * np.tanh(coord / 30.0)
        profile = line * side
        field *= profile[None, :] if c.axis == 0 else profile[:, None]
    return field


def sheet(page: np.ndarray, rng: np.random.Generator) -> Sheet:
    """The written page on real stock: tint, texture, creases (returned for the camera)."""
    stock = str(rng.choice(list(STOCKS), p=[0.45, 0.15, 0.2, 0.1, 0.1]))
    tint = np.array(STOCKS[stock], np.float32) / 255.0 + rng.normal(0, 0.01, 3)
    h, w = page.shape[:2]
    creases = random_creases(rng, (w, h))
    half = (h // 2, w // 2)  # the light field is smooth enough to build at half size
    light = _fibres(rng, half)
    if creases:
        small = [Crease(c.axis, c.pos / 2, c.height, c.sign) for c in creases]
        light *= _crease_shading(half, small, rng)
    field = [np.clip(light * (t * 250.0), 0, 255).astype(np.uint8) for t in tint]
    out = cv2.multiply(page, cv2.resize(cv2.merge(field), (w, h)), scale=1 / 250)
    return Sheet(out, stock, creases)
