"""The evaluation generator's camera: a pinhole with lens distortion over a bent sheet in 3-D.

The sheet is a height field (a cylindrical bend, a lifted corner, ridges at its creases); the
camera has a field of view, a pose (tilt about any axis, roll, sometimes held sideways or
upside down) and a distance chosen so the page fills 50-98 % of the frame. Every 16th frame
pixel is traced back through the lens (radial distortion inverted) and intersected with the
bent sheet; the coarse map, enlarged, remaps the page in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sipantau.samples.evalgen.paper import Crease

STEP = 16  # frame px between traced points
FRAMES = (  # (w, h): 8 to 16 MP, 4:3 and 16:9, portrait and landscape
    (2448, 3264),
    (2736, 3648),
    (3000, 4000),
    (3024, 4032),
    (4000, 3000),
    (2268, 4032),
    (3472, 4624),
    (4624, 3472),
)


@dataclass(frozen=True)
class Level:
    """One camera level of the evaluation generator (set apart from `samples.photo`)."""

    tilt: float  # max angle between the optical axis and the page normal, degrees
    roll_sd: float  # in-plane turn spread, degrees
    turn_rate: float  # photos held sideways or upside down
    fill: tuple[float, float]  # page extent / frame extent
    lift: float  # max height of bends and curls, page px at 300 dpi
    defocus: float  # max defocus disk radius, px at 12 MP
    motion_rate: float
    motion: float  # max motion path, px at 12 MP
    shot: float  # shot-noise gain
    read: float  # read noise, grey levels
    shadow_rate: float  # a hand or phone between the light and the page
    uneven: float  # strength of uneven light
    jpeg: tuple[int, int]
    dim_rate: float  # photos taken in poor light (darker, noisier)


LEVELS: dict[str, Level] = {
    "careful": Level(12, 4, 0.01, (0.7, 0.98), 30, 0.8, 0.05, 2.5, 0.03, 1.5, 0.15, 0.15,
                     (82, 95), 0.05),
    "normal": Level(24, 8, 0.04, (0.6, 0.96), 70, 1.6, 0.15, 4.5, 0.06, 2.5, 0.35, 0.3,
                    (72, 92), 0.15),
    "hurried": Level(34, 14, 0.08, (0.5, 0.94), 120, 2.6, 0.35, 7.0, 0.12, 3.5, 0.5, 0.45,
                     (62, 88), 0.3),
}  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """The sheet's height toward the camera at page point (u, v), in page px."""

    size: tuple[int, int]
    axis: float
    bend: float
    corner: int
    corner_lift: float
    creases: tuple[Crease, ...]

    def lift(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        w, h = self.size
        half = 0.5 * np.hypot(w, h)
        s = ((u - w / 2) * np.cos(self.axis) + (v - h / 2) * np.sin(self.axis)) / half
        out = self.bend * s**2 if self.bend > 0 else -self.bend * (1 - 4 * s**2).clip(0)
        cx, cy = ((0, 0), (w, 0), (w, h), (0, h))[self.corner]
        d = 1.0 - np.hypot(u - cx, v - cy) / (0.35 * half)
        out = out + self.corner_lift * np.clip(d, 0, 1) ** 2
        for c in self.creases:
            t = np.abs((u if c.axis == 0 else v) - c.pos) / (0.25 * (w, h)[c.axis])
            tent = np.clip(1 - t, 0, 1) if c.sign > 0 else np.clip(t, 0, 1)
            out = out + c.height * tent
        return out


def random_shape(rng, size: tuple[int, int], lv: Level, creases: list[Crease]) -> Shape:
    k = float(rng.random())
    return Shape(
        size,
        float(rng.uniform(0, np.pi)),
        lv.lift * k * float(rng.choice([1.0, -0.6])),
        int(rng.integers(4)),
        lv.lift * float(rng.random()) * (rng.random() < 0.35),
        tuple(creases),
    )


@dataclass(frozen=True)
class Pose:
    orient: np.ndarray  # 3 x 3, camera axes (columns) in page coordinates
    centre: np.ndarray  # camera position, page px (z < 0 is above the page)
    f: float  # focal length, frame px
    k: tuple[float, float]  # radial distortion
    frame: tuple[int, int]


def _orient(rng: np.random.Generator, lv: Level) -> tuple[np.ndarray, dict]:
    tilt = np.radians(lv.tilt * float(rng.random()) ** 0.8)
    az = float(rng.uniform(0, 2 * np.pi))
    roll = float(rng.normal(0, lv.roll_sd))
    if rng.random() < lv.turn_rate:
        roll += float(rng.choice([90, 180, 270]))
    r = np.radians(roll)
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    axis = np.array([np.cos(az), np.sin(az), 0.0])
    kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rt = np.eye(3) + np.sin(tilt) * kx + (1 - np.cos(tilt)) * kx @ kx
    return rt @ rz, {"tilt": round(float(np.degrees(tilt)), 2), "roll": round(roll % 360, 2)}


def project(pose: Pose, pts: np.ndarray) -> np.ndarray:
    """Page-space 3-D points (N x 3, z toward the page) to distorted frame px (N x 2)."""
    pc = (pts - pose.centre) @ pose.orient
    xn = pc[:, :2] / pc[:, 2:3]
    r2 = (xn**2).sum(1, keepdims=True) / _rnorm(pose) ** 2
    xd = xn * (1 + pose.k[0] * r2 + pose.k[1] * r2**2)
    return xd * pose.f + np.array(pose.frame) / 2


def _rnorm(pose: Pose) -> float:
    return 0.5 * float(np.hypot(*pose.frame)) / pose.f


def outline(pose: Pose, shape: Shape, n: int = 24) -> np.ndarray:
    """The sheet's edge in the frame: 4n points, clockwise from the top-left corner."""
    w, h = shape.size
    t = np.linspace(0, 1, n, endpoint=False)
    u = np.concatenate([t * w, np.full(n, w), (1 - t) * w, np.zeros(n)])
    v = np.concatenate([np.zeros(n), t * h, np.full(n, h), (1 - t) * h])
    pts = np.c_[u - w / 2, v - h / 2, -shape.lift(u, v)]
    return project(pose, pts)


def place(rng, shape: Shape, frame: tuple[int, int], lv: Level) -> tuple[Pose, dict]:
    """A pose whose view of the sheet fills the drawn fraction of the frame, all in view."""
    orient, info = _orient(rng, lv)
    diag = float(np.hypot(*frame))
    f = float(0.5 * diag / np.tan(np.radians(float(rng.uniform(72, 82))) / 2))
    k = (float(rng.uniform(-0.05, 0.03)), float(rng.uniform(-0.01, 0.01)))
    fill = float(rng.uniform(*lv.fill))
    where = rng.uniform(0, 1, 2)
    for _ in range(8):
        pose = _fit(orient, f, k, frame, shape, fill, where)
        pts = outline(pose, shape)
        if (pts.min(0) >= 0.003 * np.array(frame)).all() and (pts.max(0) < frame).all():
            break
        fill *= 0.97
    info.update(fill=round(fill, 3), focal_px=round(f, 1), k1=round(k[0], 4))
    return pose, info


def _fit(orient, f, k, frame, shape: Shape, fill: float, where: np.ndarray) -> Pose:
    """Distance from the fill, then a sideways shift to put the page `where` in the room."""
    w, h = shape.size
    size = np.array(frame, np.float64)
    dist = f * max(w, h) / min(frame)
    look = np.zeros(3)
    for _ in range(4):
        pose = Pose(orient, look - dist * orient[:, 2], f, k, frame)
        pts = outline(pose, shape)
        extent = float(((pts.max(0) - pts.min(0)) / size).max())
        dist *= extent / fill
    for _ in range(3):
        pose = Pose(orient, look - dist * orient[:, 2], f, k, frame)
        pts = outline(pose, shape)
        lo, hi = pts.min(0), pts.max(0)
        room = size - (hi - lo)
        target = 0.004 * size + where * np.maximum(room - 0.008 * size, 0)
        delta = (target - lo) * dist / f
        look = look - orient[:, 0] * delta[0] - orient[:, 1] * delta[1]
    return Pose(orient, look - dist * orient[:, 2], f, k, frame)


def trace(pose: Pose, shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Page coordinates (map_x, map_y, frame size) of every frame pixel, via a coarse grid."""
    fw, fh = pose.frame
    nx, ny = fw // STEP, fh // STEP
    xs = (np.arange(nx) + 0.5) * (fw / nx) - 0.5
    ys = (np.arange(ny) + 0.5) * (fh / ny) - 0.5
    gx, gy = np.meshgrid(xs, ys)
    xd = (np.c_[gx.ravel(), gy.ravel()] - np.array(pose.frame) / 2) / pose.f
    xn = xd.copy()
    rn = _rnorm(pose)
    for _ in range(6):  # invert the radial distortion
        r2 = (xn**2).sum(1, keepdims=True) / rn**2
        xn = xd / (1 + pose.k[0] * r2 + pose.k[1] * r2**2)
    rays = np.c_[xn, np.ones(len(xn))] @ pose.orient.T
    w, h = shape.size
    z = np.zeros(len(rays))
    for _ in range(6):  # meet the bent sheet: its height depends on where the ray lands
        t = (z - pose.centre[2]) / rays[:, 2]
        p = pose.centre + t[:, None] * rays
        z = -shape.lift(p[:, 0] + w / 2, p[:, 1] + h / 2)
    mx = (p[:, 0] + w / 2).reshape(ny, nx).astype(np.float32)
    my = (p[:, 1] + h / 2).reshape(ny, nx).astype(np.float32)
    return cv2.resize(mx, pose.frame), cv2.resize(my, pose.frame)


def corners(pose: Pose, shape: Shape) -> np.ndarray:
    """The page's TL, TR, BR, BL corners in frame px."""
    w, h = shape.size
    u, v = np.array([0, w, w, 0], np.float64), np.array([0, 0, h, h], np.float64)
    return project(pose, np.c_[u - w / 2, v - h / 2, -shape.lift(u, v)]).astype(np.float32)
