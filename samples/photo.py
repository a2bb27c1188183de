"""Simulates a phone photo of a filled page: background, pose, curl, light, blur, noise, JPEG.

One remap does the heavy work: a coarse grid (every 8 frame px) of frame -> page coordinates,
from the camera homography and a smooth paper-curl field, is resized to a full map and the page
is remapped straight onto the background. Everything else is done at low resolution and resized.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

Level = Literal["careful", "normal", "hurried"]
LEVELS: tuple[Level, ...] = ("careful", "normal", "hurried")
FRAMES = ((3000, 4000), (3000, 4000), (4000, 3000), (3024, 4032), (4032, 3024))  # (w, h)
GRID = 8  # frame px between computed map points
Curl = Callable[[np.ndarray], np.ndarray]  # page points N x 2 -> displacement N x 2


@dataclass(frozen=True)
class Camera:
    """How carefully the monitor takes the photo."""

    tilt: float  # max out-of-plane tilt, degrees
    rotation_sd: float  # in-plane rotation spread, degrees
    odd_rate: float  # rate of a 90 / 180 / 270 degree turn
    fill: tuple[float, float]  # page extent / frame extent
    blur: float  # max defocus sigma at 12 MP
    motion_rate: float
    motion_px: float
    noise: tuple[float, float]  # sensor noise sigma, grey levels
    shadow_rate: float
    curl_px: float  # max paper displacement at 300 dpi


CAMERAS: dict[str, Camera] = {
    "careful": Camera(10, 3, 0.02, (0.6, 0.9), 0.6, 0.0, 0.0, (1.0, 3.0), 0.2, 12),
    "normal": Camera(20, 6, 0.05, (0.6, 0.9), 1.2, 0.1, 3.0, (1.5, 4.5), 0.4, 25),
    "hurried": Camera(30, 12, 0.1, (0.45, 0.95), 2.2, 0.3, 6.0, (2.0, 6.5), 0.6, 40),
}


@dataclass(frozen=True)
class Photo:
    image: np.ndarray  # BGR uint8 frame, before JPEG
    jpeg: bytes
    corners: np.ndarray  # 4 x 2: the page's TL, TR, BR, BL corners in frame pixels
    quality: int
    params: dict[str, float | str | int] = field(default_factory=dict)


def encode(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError("JPEG encoding failed")
    return buf.tobytes()


def _texture(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    h, w = shape
    if kind == "wood":  # grain: stretched noise along a random direction
        grain = cv2.resize(rng.normal(0, 1, (h, max(4, w // 40))).astype(np.float32), (w, h))
        return 0.12 * grain + 0.04 * rng.normal(0, 1, shape).astype(np.float32)
    if kind == "cloth":  # woven: fine noise plus a faint weave
        yy, xx = np.mgrid[0:h, 0:w]
        weave = np.sin(xx * 1.7) * np.sin(yy * 1.7)
        return (0.05 * weave + 0.06 * rng.normal(0, 1, shape)).astype(np.float32)
    blotch = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 6)
    return 0.15 * blotch + 0.02 * rng.normal(0, 1, shape).astype(np.float32)


def background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A table (wood, cloth) or wall behind the page, sometimes with other paper at its edges."""
    w, h = size
    small = (h // 4, w // 4)
    kind = str(rng.choice(["wood", "cloth", "wall"], p=[0.45, 0.3, 0.25]))
    base = {
        "wood": [(40, 80, 130), (60, 105, 160), (30, 55, 90)],
        "cloth": [(120, 60, 40), (50, 50, 140), (60, 110, 60), (90, 90, 90)],
        "wall": [(200, 210, 215), (170, 200, 210), (180, 190, 170)],
    }[kind]
    colour = np.array(base[int(rng.integers(len(base)))], np.float32) * rng.uniform(0.8, 1.15)
    tex = _texture(rng, small, kind)
    img = np.clip(colour[None, None, :] * (1.0 + tex[..., None]), 0, 255).astype(np.uint8)
    for _ in range(int(rng.choice([0, 0, 1, 2]))):  # other sheets peeking in
        cx, cy = rng.uniform(0, small[1]), rng.choice([0, small[0]]) + rng.normal(0, 40)
        pts = cv2.boxPoints(
            ((cx, cy), (rng.uniform(150, 400), rng.uniform(100, 300)), rng.uniform(0, 90))
        )
        shade = int(rng.uniform(190, 240))
        cv2.fillPoly(img, [pts.astype(np.int32)], (shade, shade, shade + 5), cv2.LINE_AA)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)


def _rotation(axis_angle: float, tilt: float, spin: float) -> np.ndarray:
    a, t, s = np.radians([axis_angle, tilt, spin])
    ux, uy = np.cos(a), np.sin(a)
    k = np.array([[0, 0, uy], [0, 0, -ux], [-uy, ux, 0]])
    tilt_r = np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)
    spin_r = np.array([[np.cos(s), -np.sin(s), 0], [np.sin(s), np.cos(s), 0], [0, 0, 1]])
    return tilt_r @ spin_r


def pose(
    rng: np.random.Generator, page_size: tuple[int, int], frame: tuple[int, int], cam: Camera
) -> tuple[np.ndarray, dict[str, float]]:
    """Where the page's corners land in the frame: tilt, in-plane turn, scale, position."""
    pw, ph = page_size
    spin = float(rng.normal(0, cam.rotation_sd))
    if rng.random() < cam.odd_rate:
        spin += float(rng.choice([90, 180, 270]))
    tilt = cam.tilt * float(rng.random()) ** 0.7
    r = _rotation(float(rng.uniform(0, 360)), tilt, spin)
    corners = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64) - [pw / 2, ph / 2]
    pts = np.c_[corners, np.zeros(4)] @ r.T
    f = 1.1 * max(pw, ph)  # a phone's wide lens, the page filling most of the view
    proj = pts[:, :2] * f / (pts[:, 2:3] + 1.3 * f)
    fill = float(rng.uniform(*cam.fill))
    lo, hi = proj.min(0), proj.max(0)
    scale = fill / max((hi - lo) / np.array(frame, np.float64))
    proj = (proj - lo) * scale
    room = np.array(frame) - (hi - lo) * scale
    margin = np.minimum(room / 2, 0.01 * np.array(frame))
    proj += margin + rng.uniform(0, 1, 2) * np.maximum(room - 2 * margin, 0)
    return proj.astype(np.float32), {
        "tilt": round(tilt, 2),
        "rotation": round(spin % 360, 2),
        "fill": round(fill, 3),
    }


def curl_field(rng: np.random.Generator, page_size: tuple[int, int], amp: float) -> Curl:
    """A smooth displacement d(p) of page points (N x 2 -> N x 2): a bend and a lifted edge."""
    pw, ph = page_size
    a = float(rng.uniform(0, np.pi))
    u, v = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    bend, wave = amp * float(rng.uniform(-1, 1)), amp * float(rng.uniform(-0.6, 0.6))
    phase = float(rng.uniform(0, np.pi))
    half = 0.5 * np.hypot(pw, ph)

    def d(p: np.ndarray) -> np.ndarray:
        c = p - [pw / 2, ph / 2]
        s, t = c @ u / half, c @ v / half
        return (bend * (s**2 - 0.3))[:, None] * v + (wave * np.sin(np.pi * t + phase))[:, None] * u

    return d


def _grid(frame: tuple[int, int]) -> np.ndarray:
    """Frame points whose values cv2.resize interpolates exactly onto every pixel."""
    w, h = frame
    nx, ny = w // GRID, h // GRID
    xs = (np.arange(nx) + 0.5) * (w / nx) - 0.5
    ys = (np.arange(ny) + 0.5) * (h / ny) - 0.5
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def warp_onto(page: np.ndarray, back: np.ndarray, quad: np.ndarray, curl: Curl) -> np.ndarray:
    """Page (curled by `curl`) seen at `quad` in the frame, over `back`; returns corners."""
    ph, pw = page.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    h = cv2.getPerspectiveTransform(src, quad)
    frame = (back.shape[1], back.shape[0])
    pts = _grid(frame)
    p = cv2.perspectiveTransform(pts[None].astype(np.float64), np.linalg.inv(h))[0]
    p = p + curl(p)
    shape = (frame[1] // GRID, frame[0] // GRID)
    mx = cv2.resize(p[:, 0].reshape(shape).astype(np.float32), frame)
    my = cv2.resize(p[:, 1].reshape(shape).astype(np.float32), frame)
    cv2.remap(page, mx, my, cv2.INTER_LINEAR, dst=back, borderMode=cv2.BORDER_TRANSPARENT)
    q: np.ndarray = src.astype(np.float64)
    for _ in range(4):  # the frame point that the curled map sends to each corner
        q = src - curl(q)
    return cv2.perspectiveTransform(q[None], h)[0].astype(np.float32)


def lighting(rng: np.random.Generator, frame: tuple[int, int], cam: Camera) -> np.ndarray:
    """Low-res light field (H/16 x W/16 x 3, 0..1): gradient, vignette, shadow, colour cast."""
    w, h = frame[0] // 16, frame[1] // 16
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = ((xx - w / 2) * np.cos(a) + (yy - h / 2) * np.sin(a)) / max(w, h) + 0.5
    light = 1.0 - rng.uniform(0.03, 0.3) * ramp
    light *= 1.0 - rng.uniform(0.05, 0.25) * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2)
    if rng.random() < cam.shadow_rate:  # a hand or the phone between the lamp and the page
        mask = np.zeros((h, w), np.float32)
        edge = np.array([rng.choice([0, w]), rng.uniform(0, h)])[:: int(rng.choice([1, -1]))]
        centre = (
            int(edge[0]) if edge[0] in (0, w) else int(rng.uniform(0, w)),
            int(edge[1]) if edge[1] in (0, h) else int(rng.uniform(0, h)),
        )
        axes = (int(rng.uniform(0.15, 0.4) * w), int(rng.uniform(0.1, 0.3) * h))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.02, 0.06) * w)
        light *= 1.0 - rng.uniform(0.2, 0.45) * mask
    cast = np.array([[1.0, 0.97, 0.92], [0.9, 0.96, 1.0], [1.0, 1.0, 1.0], [0.97, 1.0, 0.97]])
    gain = cast[int(rng.integers(len(cast)))] * rng.uniform(0.97, 1.03, 3)
    out = light[..., None] * gain[None, None, :]
    return (out / out.max() * rng.uniform(0.78, 0.97)).astype(np.float32)


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    n = int(np.ceil(length)) | 1
    k = np.zeros((n, n), np.float32)
    c = n // 2
    dx, dy = np.cos(np.radians(angle)) * length / 2, np.sin(np.radians(angle)) * length / 2
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return k / k.sum()


def optics(img: np.ndarray, rng: np.random.Generator, cam: Camera) -> dict[str, float]:
    """Defocus and motion blur in place; returns what was applied."""
    sigma = float(rng.uniform(0, cam.blur))
    if sigma > 0.15:
        cv2.GaussianBlur(img, (0, 0), sigma, dst=img)
    motion = 0.0
    if rng.random() < cam.motion_rate:
        motion = float(rng.uniform(1.5, max(cam.motion_px, 1.6)))
        cv2.filter2D(img, -1, _motion_kernel(motion, float(rng.uniform(0, 180))), dst=img)
    return {"blur_sigma": round(sigma, 3), "motion_px": round(motion, 2)}


def add_noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Sensor noise: a 512 px tile of Gaussian noise, rolled and repeated over the frame."""
    tile = np.clip(rng.normal(128, sigma, (512, 512, 3)), 0, 255).astype(np.uint8)
    tile = np.roll(tile, (int(rng.integers(512)), int(rng.integers(512))), (0, 1))
    h, w = img.shape[:2]
    noise = np.tile(tile, (h // 512 + 1, w // 512 + 1, 1))[:h, :w]
    return cv2.addWeighted(img, 1.0, noise, 1.0, -128.0)


def fold(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A page folded in half or in thirds: faint creases and one panel a little darker."""
    page = page.copy()
    h = page.shape[0]
    fracs = [0.5] if rng.random() < 0.6 else [1 / 3, 2 / 3]
    for y in (int(h * f) for f in fracs):
        page[y:] = (page[y:].astype(np.uint16) * int(rng.uniform(238, 253)) // 255).astype(np.uint8)
        band = page[max(0, y - 3) : y + 3]
        band[:] = (band.astype(np.uint16) * 215 // 255).astype(np.uint8)
    return page


def take_photo(
    page: np.ndarray, rng: np.random.Generator, level: Level = "normal", dpi: float = 300.0
) -> Photo:
    """A phone photo of `page` (BGR, rendered at `dpi`) taken at camera `level`."""
    cam = CAMERAS[level]
    frame = FRAMES[int(rng.integers(len(FRAMES)))]
    if rng.random() < 0.3:
        page = fold(page, rng)
    quad, pose_params = pose(rng, (page.shape[1], page.shape[0]), frame, cam)
    params: dict[str, float | str | int] = dict(pose_params)
    curl = curl_field(
        rng, (page.shape[1], page.shape[0]), cam.curl_px * dpi / 300 * float(rng.uniform(0, 1))
    )
    img = background(rng, frame)
    corners = warp_onto(page, img, quad, curl)
    light = cv2.resize(lighting(rng, frame, cam) * 255, frame, interpolation=cv2.INTER_LINEAR)
    img = cv2.multiply(img, light.astype(np.uint8), scale=1 / 255)
    params.update(optics(img, rng, cam))
    sigma = float(rng.uniform(*cam.noise))
    img = add_noise(img, rng, sigma)
    quality = int(rng.integers(70, 96))
    params.update(level=level, noise=round(sigma, 2), width=frame[0], height=frame[1])
    return Photo(img, encode(img, quality), corners, quality, params)


def inside(photo: Photo) -> bool:
    """Whether all four page corners lie inside the frame."""
    h, w = photo.image.shape[:2]
    c = photo.corners
    return bool(((c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)).all())


def cut_off(photo: Photo, rng: np.random.Generator, corner: int | None = None) -> Photo:
    """The same photo aimed off: page corner `corner` (random if None) ends out of frame."""
    h, w = photo.image.shape[:2]
    k = int(rng.integers(4)) if corner is None else corner
    c = photo.corners[k]
    zoom = float(rng.uniform(1.0, 1.15))
    centre = np.array([w / 2, h / 2])
    zc = centre + (c - centre) * zoom
    shift = np.zeros(2)
    for axis, size in ((0, w), (1, h)):
        towards_low = zc[axis] < size / 2
        beyond = float(rng.uniform(0.02, 0.08)) * size
        if axis == int(np.argmin([min(zc[0], w - zc[0]), min(zc[1], h - zc[1])])):
            shift[axis] = -(zc[axis] + beyond) if towards_low else size - zc[axis] + beyond
    m = np.array(
        [
            [zoom, 0, (1 - zoom) * centre[0] + shift[0]],
            [0, zoom, (1 - zoom) * centre[1] + shift[1]],
        ],
        np.float64,
    )
    img = cv2.warpAffine(
        photo.image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    corners = (np.c_[photo.corners, np.ones(4)] @ m.T).astype(np.float32)
    params = {**photo.params, "cut_off_corner": k}
    return replace(
        photo, image=img, jpeg=encode(img, photo.quality), corners=corners, params=params
    )


def blurred(photo: Photo, sigma: float) -> Photo:
    """The same photo out of focus (Gaussian blur of `sigma` frame pixels)."""
    img = cv2.GaussianBlur(photo.image, (0, 0), sigma)
    params = {**photo.params, "extra_blur": sigma}
    return replace(photo, image=img, jpeg=encode(img, photo.quality), params=params)
