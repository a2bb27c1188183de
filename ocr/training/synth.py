"""Synthetic digit-box crops: pure functions that mimic what `ocr/boxes.py` cuts from a photo.

Ink masks follow MNIST's convention (uint8, 255 = full ink, 0 = none); crops are dark ink on
light paper. Every random choice comes from the `rng` passed in, so a seed fixes the output.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from sipantau.ocr.types import GrayImage

Kind = Literal["digit", "x", "blank"]
BLANKO_BOX = (59, 71)  # w, h in canonical pixels (10 x 12 mm at 150 dpi)
CHASIL_BOX = (71, 71)  # about 12 x 12 mm
MARGIN = 0.15  # crop margin, fraction of the box's larger side
_SS = 4  # supersampling for drawn strokes


def crop_size(box_px: tuple[int, int]) -> tuple[int, int, int]:
    """(crop w, crop h, margin) for a box of `box_px` = (w, h)."""
    m = int(round(MARGIN * max(box_px)))
    return box_px[0] + 2 * m, box_px[1] + 2 * m, m


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 24) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _draw_strokes(strokes: list[np.ndarray], size: tuple[int, int], width: float) -> GrayImage:
    """Anti-aliased polylines (float points, pixel units) as an ink mask of `size` = (w, h)."""
    w, h = size
    big = np.zeros((h * _SS, w * _SS), np.uint8)
    thick = max(1, int(round(width * _SS)))
    for pts in strokes:
        p = np.round(pts * _SS).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(big, [p], False, 255, thick, cv2.LINE_AA)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)


def x_mark(
    rng: np.random.Generator,
    size: tuple[int, int],
    width: float | None = None,
    filler: bool = False,
) -> GrayImage:
    """A hand-drawn "X" filling most of `size` = (w, h): an ink mask, 255 = ink.

    Styles: a full cross, a small lower-case "x", or a slash with a short crossing stroke.
    `filler`: always the small "x" many write in unused boxes, 15-45 % of the box high.
    """
    w, h = size
    width = float(rng.uniform(1.5, 5.0)) if width is None else width
    if filler:
        style, scale = "small", float(rng.uniform(0.15, 0.45))
    else:
        style = rng.choice(["cross", "small", "slash"], p=[0.65, 0.2, 0.15])
        scale = {
            "cross": rng.uniform(0.55, 0.95),
            "small": rng.uniform(0.3, 0.5),
            "slash": rng.uniform(0.5, 0.9),
        }[style]
    cx = w / 2 + rng.normal(0, 0.06) * w
    cy = h / 2 + rng.normal(0, 0.06) * h + (0.15 * h if style == "small" else 0.0)
    hw = scale * w / 2 * rng.uniform(0.7, 1.1)
    hh = scale * h / 2 * rng.uniform(0.7, 1.0)
    rot = np.deg2rad(rng.normal(0, 10))
    rmat = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    ends = [((-1, -1), (1, 1)), ((1, -1), (-1, 1))]
    strokes = []
    for i, (a, b) in enumerate(ends):
        k = 0.35 if style == "slash" and i == 1 else 1.0
        p0 = np.array(a, float) * k + rng.normal(0, 0.12, 2)
        p2 = np.array(b, float) * k + rng.normal(0, 0.12, 2)
        bend = rng.normal(0, 0.18, 2)
        p1 = (p0 + p2) / 2 + bend
        pts = _bezier(p0, p1, p2) * np.array([hw, hh])
        strokes.append(pts @ rmat.T + np.array([cx, cy]))
    return _draw_strokes(strokes, (w, h), width)


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask, from area and perimeter (w = 2A/P)."""
    area = float(mask.sum())
    edge = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return 2.0 * area / max(float(edge.sum()), 1.0)


def restroke(
    ink: GrayImage,
    target_h: int,
    width: float,
    aspect: float,
    rng: np.random.Generator | None = None,
    vary: float = 0.0,
) -> GrayImage:
    """Scale an ink mask to `target_h` rows and set its stroke width to about `width` px; with
    `vary` > 0 (and `rng`), the width changes smoothly along the strokes by up to that share, as
    a pen pressed unevenly: broader where pressed, finer where it eases off."""
    ys, xs = np.nonzero(ink > 30)
    if len(ys) == 0:
        return np.zeros((target_h, max(target_h // 2, 1)), np.uint8)
    sub = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    sc = target_h / sub.shape[0]
    tw = max(2, int(round(sub.shape[1] * sc * aspect)))
    pad = int(np.ceil(width)) + 2
    big = cv2.resize(sub, (tw, target_h), interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    big = cv2.GaussianBlur(big, (0, 0), max(0.5, 0.3 * sc))
    mask = big > 110
    w0 = _stroke_width(mask)
    din = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    dout = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    signed = din - dout + 0.5
    target: float | np.ndarray = width
    if vary > 0 and rng is not None:
        field = cv2.GaussianBlur(
            rng.uniform(-1, 1, mask.shape).astype(np.float32), (0, 0), max(2.0, 0.2 * target_h)
        )
        field = np.tanh(3.0 * field / max(float(np.abs(field).max()), 1e-6))  # mostly +-1
        target = width * (1.0 + vary * field)
    off = (w0 - target) / 2.0
    alpha = np.clip(signed - off + 0.5, 0.0, 1.0)
    return (alpha * 255).astype(np.uint8)


def elastic(
    ink: GrayImage, rng: np.random.Generator, amplitude: float, sigma: float = 4.0
) -> GrayImage:
    """Warp an ink mask by a smooth random displacement field peaking at `amplitude` px.

    Simard et al.'s elastic distortion: other writers' shapes (a longer hook, a flatter
    base, a smaller loop) that no affine jitter reaches.
    """
    h, w = ink.shape
    fields = []
    for _ in range(2):
        f = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
        fields.append(f * (amplitude / max(float(np.abs(f).max()), 1e-6)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(ink, xx + fields[0], yy + fields[1], cv2.INTER_LINEAR, borderValue=0)


def serif_one(ink: GrayImage, rng: np.random.Generator) -> GrayImage:
    """A "1" as many write it: a flag from its top, a foot across its base, or both.

    MNIST's 1s are mostly bare strokes; a 1 with a foot otherwise reads as a 2 (28x28 masks).
    """
    mask = ink > 80
    ys, xs = np.nonzero(mask)
    if len(ys) < 5:
        return ink
    top, bottom = int(ys.min()), int(ys.max())
    height = max(bottom - top, 6)
    top_x, bottom_x = float(xs[ys <= top + 1].mean()), float(xs[ys >= bottom - 1].mean())
    width = float(np.clip(_stroke_width(mask), 1.2, 4.0))
    style = rng.choice(["flag", "foot", "both"], p=[0.4, 0.2, 0.4])
    strokes = []
    if style != "foot":
        a = np.deg2rad(rng.uniform(30, 65))
        length = rng.uniform(0.15, 0.35) * height
        end = np.array([top_x - length * np.cos(a), top + length * np.sin(a)])
        start = np.array([top_x, top + rng.uniform(0, 1.5)])
        mid = (start + end) / 2 + rng.normal(0, 0.6, 2)
        strokes.append(_bezier(start, mid, end, 12))
    if style != "flag":
        y = bottom + rng.uniform(-1.0, 0.5)
        left = bottom_x - rng.uniform(0.15, 0.4) * height
        right = bottom_x + rng.uniform(0.15, 0.4) * height
        p0, p2 = np.array([left, y]), np.array([right, y + rng.normal(0, 0.8)])
        strokes.append(_bezier(p0, (p0 + p2) / 2 + rng.normal(0, 0.5, 2), p2, 12))
    extra = _draw_strokes(strokes, ink.shape[::-1], width)
    return np.maximum(ink, extra)


def _illumination(rng: np.random.Generator, size: tuple[int, int], lv: float) -> np.ndarray:
    """Paper brightness: a grey level (120-230), a linear gradient and sometimes a shadow."""
    w, h = size
    base = rng.uniform(230 - 90 * lv, 232)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5)).astype(np.float32)
    field = base + ramp * rng.uniform(0, 10 + 50 * lv)
    if rng.random() < 0.15 + 0.35 * lv:
        ang = rng.uniform(0, 2 * np.pi)
        d = np.cos(ang) * (xx - rng.uniform(0, w)) + np.sin(ang) * (yy - rng.uniform(0, h))
        edge = 1.0 / (1.0 + np.exp(-d / rng.uniform(1.0, 12.0)))
        field *= 1.0 - rng.uniform(0.1, 0.45) * edge
    return np.clip(field, 60, 255).astype(np.float32)


def _box_lines(
    rng: np.random.Generator, size: tuple[int, int], m: int, box: tuple[int, int], lv: float
) -> tuple[np.ndarray, tuple[float, float]]:
    """Ink mask (0-1) of the printed border, shifted and rotated; returns it and the box offset."""
    w, h = size
    off = rng.uniform(-4, 4, 2) * (0.4 + 0.6 * lv) * (2.0 if rng.random() < 0.1 else 1.0)
    if rng.random() < 0.12:  # lines stripped upstream, or a faint print
        return np.zeros((h, w), np.float32), (float(off[0]), float(off[1]))
    x0, y0 = m + off[0], m + off[1]
    rect = np.array([[x0, y0], [x0 + box[0], y0], [x0 + box[0], y0 + box[1]], [x0, y0 + box[1]]])
    strokes = [np.vstack([rect, rect[:1]])]
    if rng.random() < 0.3:  # a neighbour box's edge, left or right
        gap = rng.uniform(1, m + 2)
        x = x0 - gap if rng.random() < 0.5 else x0 + box[0] + gap
        strokes.append(np.array([[x, y0], [x, y0 + box[1]]]))
    c = np.array([w / 2, h / 2])
    a = np.deg2rad(rng.uniform(-2, 2))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    strokes = [(s - c) @ rot.T + c for s in strokes]
    mask = _draw_strokes(strokes, (w, h), rng.uniform(1.2, 3.0)).astype(np.float32) / 255
    return mask * rng.uniform(0.55, 1.0), (float(off[0]), float(off[1]))


def _paste(canvas: np.ndarray, ink: np.ndarray, cx: float, cy: float) -> None:
    """Max-composite `ink` (0-1) centred at (cx, cy) into `canvas`, clipped at the edges."""
    ih, iw = ink.shape
    x0, y0 = int(round(cx - iw / 2)), int(round(cy - ih / 2))
    h, w = canvas.shape
    sx0, sy0 = max(0, -x0), max(0, -y0)
    ex, ey = min(iw, w - x0), min(ih, h - y0)
    if ex <= sx0 or ey <= sy0:
        return
    region = canvas[y0 + sy0 : y0 + ey, x0 + sx0 : x0 + ex]
    np.maximum(region, ink[sy0:ey, sx0:ex], out=region)


def _stray(rng: np.random.Generator, size: tuple[int, int], m: int) -> np.ndarray:
    """A neighbour's stroke entering from one crop edge (stops short of the box centre)."""
    w, h = size
    side = rng.integers(4)
    t = rng.uniform(0.2, 0.8)
    depth = rng.uniform(0.3, 1.6) * m
    starts = [(t * w, -2.0), (t * w, h + 2.0), (-2.0, t * h), (w + 2.0, t * h)]
    dirs = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    p0 = np.array(starts[side])
    p2 = p0 + np.array(dirs[side]) * depth + rng.normal(0, 0.4 * m, 2)
    p1 = (p0 + p2) / 2 + rng.normal(0, 0.3 * m, 2)
    return _draw_strokes([_bezier(p0, p1, p2)], size, rng.uniform(1.5, 5)).astype(np.float32) / 255


def _blank_marks(rng: np.random.Generator, size: tuple[int, int], m: int) -> np.ndarray:
    """What an empty box may still hold: nothing, a faint smudge, a dot."""
    w, h = size
    ink = np.zeros((h, w), np.float32)
    r = rng.random()
    if r < 0.25:  # smudge
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy, s = rng.uniform(m, w - m), rng.uniform(m, h - m), rng.uniform(3, 12)
        ink += rng.uniform(0.03, 0.2) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    elif r < 0.4:  # dot
        big = np.zeros((h * _SS, w * _SS), np.uint8)
        c = (int(rng.uniform(m, w - m) * _SS), int(rng.uniform(m, h - m) * _SS))
        cv2.circle(big, c, int(rng.uniform(0.7, 2.2) * _SS), 255, -1, cv2.LINE_AA)
        ink = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return ink


def _pen(rng: np.random.Generator) -> tuple[str, float, float]:
    """(kind, stroke width px, ink reflectance in grey): ballpoint blue or black, or felt tip.

    Reflectance is the pen colour's grey level on white (OpenCV's BGR->grey weights): blue
    ballpoint is light in grey, black and felt tips dark.
    """
    kind = str(rng.choice(["ballpoint", "felt", "pencil-light"], p=[0.7, 0.25, 0.05]))
    if kind == "ballpoint":
        width = float(np.exp(rng.uniform(np.log(1.2), np.log(4.0))))
        blue = rng.random() < 0.6
        refl = rng.uniform(0.2, 0.55) if blue else rng.uniform(0.08, 0.35)
    elif kind == "felt":
        width = float(np.exp(rng.uniform(np.log(3.0), np.log(7.5))))
        refl = rng.uniform(0.04, 0.3)
    else:
        width = float(rng.uniform(1.2, 2.5))
        refl = rng.uniform(0.45, 0.65)
    return kind, width, float(refl)


def _content(
    digit: np.ndarray | None,
    kind: Kind,
    rng: np.random.Generator,
    box: tuple[int, int],
    width: float,
    warp: float = 0.0,
    serif: float = 0.0,
    filler: float = 0.0,
    pressure: float = 0.0,
) -> np.ndarray:
    """The handwritten ink (0-1) of one box, 40-100 % of the box's height, slanted and turned;
    with `warp` > 0, half the digits are first elastically distorted by up to `warp` px of 28;
    `serif`: the chance that this digit, a 1, is given a flag or a foot (`serif_one`);
    `filler`: the chance that this X is a small filler "x" (`x_mark`); `pressure`: the chance
    that a digit's stroke width varies along it (`restroke`'s `vary`)."""
    if kind == "x":
        small = filler > 0 and rng.random() < filler
        return x_mark(rng, box, width, filler=small).astype(np.float32) / 255
    if digit is None:
        raise ValueError("kind 'digit' needs a 28x28 digit")
    if serif > 0 and rng.random() < serif:
        digit = serif_one(digit, rng)
    if warp > 0 and rng.random() < 0.5:
        digit = elastic(digit, rng, float(rng.uniform(0.3, 1.0)) * warp)
    th = int(round(rng.uniform(0.4, 1.0) * box[1]))
    vary = 0.6 if pressure > 0 and rng.random() < pressure else 0.0
    ink = restroke(digit, th, width, float(rng.uniform(0.7, 1.35)), rng, vary)
    ang, shear = rng.normal(0, 7), rng.normal(0.04, 0.16)
    h, w = ink.shape
    pad = int(0.2 * max(h, w))
    ink = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    h, w = ink.shape
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0)
    mat[0, 1] += shear
    mat[0, 2] -= shear * h / 2
    ink = cv2.warpAffine(ink, mat, (w, h), flags=cv2.INTER_LINEAR)
    return _trim(ink.astype(np.float32) / 255)


def _on_line(sizes: list[tuple[int, int]], rng: np.random.Generator) -> tuple[int, float, float]:
    """(axis, offset along it, offset across) that lay the writing's edge on a box line, from a
    tenth short of it to a third across (a writer short of room); `sizes`: (box, ink) along x,
    then y."""
    axis = 0 if rng.random() < 0.7 else 1
    sign = float(rng.choice([-1.0, 1.0]))
    (box, ink), across = sizes[axis], sizes[1 - axis]
    push = sign * (max(0.0, (box - ink) / 2) + rng.uniform(-0.1, 0.35) * ink)
    return axis, push, float(rng.normal(0, 0.06) * across[0])


def _trim(ink: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(ink > 0.05)
    if len(ys) == 0:
        return ink
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _pen_texture(ink: np.ndarray, rng: np.random.Generator, pen: str, lv: float) -> np.ndarray:
    """Ballpoint pressure (uneven darkness, sometimes skips), felt-tip bleed."""
    h, w = ink.shape
    if pen == "felt":
        return np.clip(cv2.GaussianBlur(ink, (0, 0), rng.uniform(0.3, 0.9)) * 1.15, 0, 1)
    if rng.random() < 0.6:
        tex = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(1, 3))
        ink = ink * np.clip(1.0 - (0.2 + 0.5 * lv) * (tex - tex.mean()) * 6, 0.3, 1.0)
    if pen == "ballpoint" and rng.random() < 0.2:  # the ball skips: short gaps along strokes
        tex = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.2)
        ink = ink * np.clip((tex - tex.mean()) * -25 + 1.5, 0.15, 1.0)
    return ink


def _glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft bright spot (flash or window light on glossy paper)."""
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.8) * max(w, h)
    spot = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    return img + spot * rng.uniform(20, 70) * (1 - img / 300)


def _degrade(img: np.ndarray, rng: np.random.Generator, lv: float) -> GrayImage:
    """Phone-photo artefacts: glare, blur (focus or shake), noise, low resolution, JPEG."""
    h, w = img.shape
    if rng.random() < 0.1:
        img = _glare(img, rng)
    if rng.random() < 0.12 + 0.15 * lv:  # hand shake: a short line kernel
        n = int(rng.integers(3, 4 + int(4 * lv)))
        k = np.zeros((n, n), np.float32)
        cv2.line(k, (0, int(rng.integers(n))), (n - 1, int(rng.integers(n))), 1.0, 1)
        img = cv2.filter2D(img, -1, k / max(k.sum(), 1.0))
    sigma = rng.uniform(0, 0.4 + 1.1 * lv)
    if sigma > 0.15:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(0.5, 2 + 8 * lv), img.shape).astype(np.float32)
    if rng.random() < 0.6:  # photographed from further away: fewer pixels per box
        s = rng.uniform(1 - 0.65 * lv, 1.0)
        small = cv2.resize(img, (max(8, int(w * s)), max(8, int(h * s))), cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.clip(img, 0, 255).astype(np.uint8)
    q = int(rng.uniform(95 - 60 * lv, 96))
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else out


def render_crop(
    digit: np.ndarray | None,
    kind: Kind,
    rng: np.random.Generator,
    box_px: tuple[int, int] = BLANKO_BOX,
    level: float | None = None,
    warp: float = 0.0,
    serif: float = 0.0,
    touch: float = 0.0,
    filler: float = 0.0,
    pressure: float = 0.0,
) -> GrayImage:
    """A box crop as `ocr/boxes.py` would cut it; `digit` is a 28x28 MNIST-style ink mask.

    `level` (0-1) sets how hard the photo is; None draws it at random. `warp`, `serif` (pass it
    for 1s only), `filler` (for X marks), `pressure`: see `_content`. `touch`: the chance that the
    writing sits on a box line.
    """
    lv = float(rng.uniform(0, 1)) if level is None else float(level)
    cw, ch, m = crop_size(box_px)
    lines, (dx, dy) = _box_lines(rng, (cw, ch), m, box_px, lv)
    pen, width, ink_refl = _pen(rng)
    ink = np.zeros((ch, cw), np.float32)
    if kind == "blank":
        ink = _blank_marks(rng, (cw, ch), m)
    else:
        content = _content(digit, kind, rng, box_px, width, warp, serif, filler, pressure)
        spread = 0.15 if rng.random() < 0.1 else 0.06
        # off-centre, touching the border, sometimes crossing it by up to 40 % of the ink
        over = 0.4 if rng.random() < 0.1 else 0.2
        sizes = list(zip(box_px, content.shape[::-1], strict=True))
        lim = [max(0.0, (b - c) / 2) + over * c for b, c in sizes]
        ox, oy = (
            float(np.clip(rng.normal(0, spread) * b, -q, q))
            for b, q in zip(box_px, lim, strict=True)
        )
        if touch > 0 and rng.random() < touch:
            axis, push, jitter = _on_line(sizes, rng)
            ox, oy = (push, jitter) if axis == 0 else (jitter, push)
        _paste(ink, content, m + dx + box_px[0] / 2 + ox, m + dy + box_px[1] / 2 + oy)
    if rng.random() < (0.3 if kind == "blank" else 0.1):
        ink = np.maximum(ink, _stray(rng, (cw, ch), m))
    ink = _pen_texture(ink, rng, pen, lv)
    line_refl = rng.uniform(0.05, 0.5)
    refl = (1 - lines * (1 - line_refl)) * (1 - ink * (1 - ink_refl))
    img = _illumination(rng, (cw, ch), lv) * refl
    return _degrade(img.astype(np.float32), rng, lv)
