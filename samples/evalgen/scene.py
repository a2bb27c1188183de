"""What lies behind and around the page: a table, a wall or a floor, and desk clutter.

Drawn at a quarter of the frame's size and enlarged (a background is out of focus anyway).
"""

from __future__ import annotations

import cv2
import numpy as np

SURFACES = ("wood", "laminate", "wall", "tiles", "tablecloth")


def _wood(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, np.pi)
    across = xx * np.cos(a) + yy * np.sin(a)
    warp = cv2.resize(rng.normal(0, 1, (6, 6)).astype(np.float32), (w, h)) * rng.uniform(5, 25)
    rings = np.sin((across + warp) * rng.uniform(0.05, 0.2))
    base = np.array(rng.choice([(45, 85, 140), (30, 60, 105), (80, 130, 180), (25, 40, 60)]))
    shade = 1.0 + 0.12 * rings + 0.04 * rng.normal(0, 1, (h, w)).astype(np.float32)
    return base[None, None, :] * shade[..., None]


def _flat(rng: np.random.Generator, h: int, w: int, colours: list[tuple[int, int, int]]):
    base = np.array(colours[int(rng.integers(len(colours)))], np.float32)
    blotch = cv2.resize(rng.normal(0, 1, (5, 5)).astype(np.float32), (w, h))
    return base[None, None, :] * (1.0 + rng.uniform(0.02, 0.08) * blotch)[..., None]


def _tiles(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _flat(rng, h, w, [(190, 195, 200), (150, 170, 190), (120, 120, 125)])
    step = int(rng.uniform(60, 160))
    grout = np.array(rng.choice([(90, 90, 95), (200, 200, 200)]), np.float64)
    for x in range(int(rng.integers(step)), w, step):
        cv2.line(img, (x, 0), (x, h), grout.tolist(), 2)
    for y in range(int(rng.integers(step)), h, step):
        cv2.line(img, (0, y), (w, y), grout.tolist(), 2)
    return img


def _tablecloth(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(20, 80)
    check = ((xx // period + yy // period) % 2).astype(np.float32)
    a = np.array(rng.choice([(40, 40, 160), (140, 80, 30), (40, 120, 40)]), np.float32)
    b = np.array([220, 225, 230], np.float32)
    return a[None, None] * check[..., None] + b[None, None] * (1 - check[..., None])


def _clutter(img: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Pens, a phone, coins, another sheet, a sticky note: things left on a desk."""
    h, w = img.shape[:2]
    items = []
    for _ in range(int(rng.choice([0, 1, 1, 2, 3, 4]))):
        kind = str(rng.choice(["pen", "phone", "coin", "sheet", "note"]))
        c = (float(rng.uniform(0, w)), float(rng.uniform(0, h)))
        ang = float(rng.uniform(0, 180))
        if kind == "pen":
            size = (float(rng.uniform(0.2, 0.35) * w), float(rng.uniform(6, 10)))
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        elif kind == "phone":
            size = (float(rng.uniform(0.14, 0.2) * w), float(rng.uniform(0.07, 0.1) * w))
            colour = (20, 20, 22)
        elif kind == "coin":
            r = int(rng.uniform(8, 16))
            cv2.circle(img, (int(c[0]), int(c[1])), r, (90, 150, 170), -1, cv2.LINE_AA)
            items.append(kind)
            continue
        elif kind == "sheet":
            size = (float(rng.uniform(0.3, 0.6) * w), float(rng.uniform(0.4, 0.8) * w))
            colour = (235, 238, 240)
        else:
            size = (float(rng.uniform(0.06, 0.1) * w),) * 2
            colour = (120, 235, 250)
        pts = cv2.boxPoints((c, size, ang)).astype(np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
        if kind == "sheet":  # lines of print on it
            for k in range(1, 12):
                t = k / 12
                p0 = pts[0] + t * (pts[1] - pts[0]) + 0.1 * (pts[3] - pts[0])
                p1 = pts[0] + t * (pts[1] - pts[0]) + 0.9 * (pts[3] - pts[0])
                cv2.line(img, tuple(p0.astype(int)), tuple(p1.astype(int)), (70, 70, 70), 1)
        items.append(kind)
    return items


def backdrop(rng: np.random.Generator, frame: tuple[int, int]) -> tuple[np.ndarray, dict]:
    """A background (BGR uint8, frame size) and what is in it."""
    w, h = frame
    sh, sw = h // 4, w // 4
    kind = str(rng.choice(SURFACES, p=[0.35, 0.2, 0.15, 0.15, 0.15]))
    if kind == "wood":
        img = _wood(rng, sh, sw)
    elif kind == "laminate":
        img = _flat(rng, sh, sw, [(235, 235, 235), (60, 60, 60), (170, 200, 215), (30, 30, 30)])
    elif kind == "wall":
        img = _flat(rng, sh, sw, [(200, 225, 235), (190, 220, 200), (240, 240, 240)])
    elif kind == "tiles":
        img = _tiles(rng, sh, sw)
    else:
        img = _tablecloth(rng, sh, sw)
    img = np.clip(img, 0, 255).astype(np.uint8)
    items = _clutter(img, rng) if kind != "wall" else []
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 2.0)))
    info = {"surface": kind, "items": items}
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR), info


def drop_shadow(back: np.ndarray, outline: np.ndarray, rng: np.random.Generator) -> None:
    """The page's own soft shadow on the surface under it, in place (outline: N x 2 frame px)."""
    h, w = back.shape[:2]
    small = np.zeros((h // 8, w // 8), np.float32)
    shift = rng.normal(0, 0.006, 2) * np.array([w, h])
    cv2.fillPoly(small, [((outline + shift) / 8).astype(np.int32)], 1.0, cv2.LINE_AA)
    small = cv2.GaussianBlur(small, (0, 0), float(rng.uniform(2, 8)))
    k = float(rng.uniform(0.15, 0.4))
    keep = cv2.merge([np.clip((1.0 - k * small) * 255, 0, 255).astype(np.uint8)] * 3)
    cv2.multiply(back, cv2.resize(keep, (w, h)), dst=back, scale=1 / 255)
