"""Light, lens and sensor of the evaluation generator's camera, after the scene is composed.

Light: a colour temperature (warm lamp to cold daylight), one or two soft lamp spots, a
gradient, cos^4 vignetting, and sometimes the shadow of a hand or a phone (a bluish penumbra).
Lens: a disk defocus and a motion path (a short random walk). Sensor and phone pipeline:
signal-dependent noise with chroma, an imperfect white balance, a tone curve, sharpening, JPEG.
"""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.samples.evalgen.camera import Level

SMALL = 16  # light fields are computed at 1/16 of the frame


def _temperature(kelvin: float) -> np.ndarray:
    """BGR gain of a light of `kelvin` (a rough blackbody tint, 6500 K = neutral)."""
    t = (kelvin - 6500.0) / 4000.0
    return np.array([1.0 + 0.35 * t, 1.0 + 0.05 * t, 1.0 - 0.3 * t]).clip(0.55, 1.3)


def _shadow(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, str]:
    """A soft mask (0..1, h x w) of a hand or a phone held over the page, from an edge."""
    mask = np.zeros((h, w), np.float32)
    side = int(rng.integers(4))
    along = float(rng.uniform(0.15, 0.85))
    entry = [(along * w, 0), (w, along * h), (along * w, h), (0, along * h)][side]
    inward = np.array([(0, 1), (-1, 0), (0, -1), (1, 0)][side], np.float64)
    depth = float(rng.uniform(0.15, 0.45)) * (h if side in (0, 2) else w)
    kind = str(rng.choice(["hand", "phone"]))
    tip = np.array(entry) + inward * depth
    if kind == "phone":
        ang = float(np.degrees(np.arctan2(inward[1], inward[0])) + rng.normal(0, 20))
        mid = (np.array(entry) + tip) / 2
        size = (float(depth * 1.6), float(0.25 * min(h, w)))
        cv2.fillPoly(mask, [cv2.boxPoints((tuple(mid), size, ang)).astype(np.int32)], 1.0)
    else:
        palm = np.array(entry) + inward * depth * 0.55
        axes = (int(0.18 * min(h, w)), int(0.22 * min(h, w)))
        cv2.ellipse(mask, tuple(palm.astype(int)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        normal = np.array([-inward[1], inward[0]])
        for k in range(4):  # fingers
            base = palm + normal * (k - 1.5) * 0.09 * min(h, w)
            end = base + inward * depth * rng.uniform(0.4, 0.7)
            width = max(1, int(0.05 * min(h, w)))
            cv2.line(mask, tuple(base.astype(int)), tuple(end.astype(int)), 1.0, width)
    penumbra = float(rng.uniform(0.01, 0.05)) * max(h, w) + 0.5
    return cv2.GaussianBlur(mask, (0, 0), penumbra), kind


def light_field(rng: np.random.Generator, frame: tuple[int, int], lv: Level):
    """The light on the scene (frame/16 x 3 float32 gains) and a description of it."""
    w, h = frame[0] // SMALL, frame[1] // SMALL
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    kelvin = float(rng.choice([rng.uniform(2700, 4000), rng.uniform(4000, 7500)]))
    exposure = float(rng.uniform(0.8, 1.0))
    if rng.random() < lv.dim_rate:
        exposure *= float(rng.uniform(0.55, 0.8))
    light = np.ones((h, w), np.float32)
    for _ in range(int(rng.integers(1, 3))):  # lamps
        c = rng.uniform(-0.3, 1.3, 2) * [w, h]
        s = float(rng.uniform(0.4, 1.0)) * max(w, h)
        spot = np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * s * s))
        light += float(rng.uniform(0.2, 1.0)) * lv.uneven * spot
    a = float(rng.uniform(0, 2 * np.pi))
    ramp = ((xx / w - 0.5) * np.cos(a) + (yy / h - 0.5) * np.sin(a)).astype(np.float32)
    light *= 1.0 + lv.uneven * float(rng.uniform(-0.5, 0.5)) * ramp
    r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (0.5 * np.hypot(w, h)) ** 2
    light *= (1.0 / (1.0 + float(rng.uniform(0.1, 0.5)) * r2)) ** 2  # cos^4 falloff
    residual = float(rng.uniform(0.2, 0.5))  # what the phone's auto white balance leaves
    tint = _temperature(kelvin) ** residual
    gains = np.repeat(light[..., None], 3, axis=2) * tint[None, None, :]
    info = {"kelvin": round(kelvin), "exposure": round(exposure, 3), "shadow": "none"}
    if rng.random() < lv.shadow_rate:
        mask, info["shadow"] = _shadow(rng, h, w)
        dark = float(rng.uniform(0.2, 0.55))
        sky = np.array([1.0, 0.97, 0.9], np.float32)  # what lights the shadow is bluer
        gains = gains * (1 - dark * mask[..., None]) + dark * mask[..., None] * 0.25 * sky
    gains *= exposure / float(np.percentile(gains.max(axis=2), 98))
    return gains.astype(np.float32), info


def _disk(radius: float) -> np.ndarray:
    n = int(np.ceil(radius)) * 2 + 1
    k = np.zeros((n * 4, n * 4), np.float32)
    cv2.circle(k, (n * 2, n * 2), int(round(radius * 4)), 1.0, -1, cv2.LINE_AA)
    k = cv2.resize(k, (n, n), interpolation=cv2.INTER_AREA)
    return k / k.sum()


def _path(length: float, rng: np.random.Generator) -> np.ndarray:
    """A motion-blur kernel along a short random walk of about `length` px."""
    n = int(np.ceil(length)) * 2 + 3
    k = np.zeros((n * 4, n * 4), np.float32)
    steps = rng.normal(0, 1, (8, 2)) * 0.3 + rng.normal(0, 1, 2)
    steps *= length / max(np.linalg.norm(steps, axis=1).sum(), 1e-6)
    pts = np.cumsum(np.vstack([[0, 0], steps]), axis=0)
    pts = (pts - pts.mean(0) + n / 2) * 4
    cv2.polylines(k, [pts.astype(np.int32)], False, 1.0, 4, cv2.LINE_AA)
    k = cv2.resize(k, (n, n), interpolation=cv2.INTER_AREA)
    return k / k.sum()


def lens(img: np.ndarray, rng: np.random.Generator, lv: Level, mp_scale: float) -> dict:
    """Defocus and hand shake, in place; sizes scale with the frame (`mp_scale` px per 12 MP px)."""
    radius = float(rng.uniform(0, lv.defocus)) * mp_scale
    if radius > 0.3:
        cv2.filter2D(img, -1, _disk(radius), dst=img)
    motion = 0.0
    if rng.random() < lv.motion_rate:
        motion = float(rng.uniform(1.0, lv.motion)) * mp_scale
        cv2.filter2D(img, -1, _path(motion, rng), dst=img)
    return {"defocus_px": round(radius, 2), "motion_px": round(motion, 2)}


def sensor(img: np.ndarray, rng: np.random.Generator, lv: Level, exposure: float) -> dict:
    """Noise (shot + read, luma and chroma, a little correlated), white balance, tone curve,
    sharpening; `out` is the processed frame."""
    h, w = img.shape[:2]
    gain = lv.shot / max(exposure, 0.3)
    grey = cv2.cvtColor(
        cv2.resize(img, (w // 8, h // 8), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
    )
    level = cv2.resize(grey.astype(np.float32), (w // 2, h // 2))[..., None]
    sigma = np.sqrt(lv.read**2 + gain * level)
    luma = rng.standard_normal((h // 2, w // 2, 1), np.float32)
    chroma = cv2.resize(rng.standard_normal((h // 4, w // 4, 3), np.float32), (w // 2, h // 2))
    noise = np.clip(128.0 + sigma * (luma + 0.5 * chroma), 0, 255).astype(np.uint8)
    noisy = cv2.addWeighted(img, 1.0, cv2.resize(noise, (w, h)), 1.0, -128.0)
    wb = rng.normal(1.0, 0.04, 3)
    wb /= wb.mean()
    gamma = float(rng.uniform(0.85, 1.15))
    contrast = float(rng.uniform(0.0, 0.25))
    x = np.arange(256, dtype=np.float64) / 255.0
    lut = []
    for g in wb:  # per channel: white balance, then the phone's tone curve
        c = np.clip(x * g, 0, 1) ** gamma
        c = c + contrast * (c - 0.5) * (1 - np.abs(2 * c - 1))
        lut.append(np.clip(c * 255, 0, 255).astype(np.uint8))
    out = cv2.LUT(noisy, np.stack(lut, axis=1)[:, None, :])
    amount = float(rng.uniform(0.0, 0.8))
    if amount > 0.05:
        soft = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(1.0, 2.0)))
        out = cv2.addWeighted(out, 1 + amount, soft, -amount, 0)
    return {
        "out": out,
        "noise_gain": round(gain, 3),
        "gamma": round(gamma, 3),
        "sharpen": round(amount, 3),
    }


def jpeg(img: np.ndarray, rng: np.random.Generator, lv: Level) -> tuple[bytes, int]:
    quality = int(rng.integers(lv.jpeg[0], lv.jpeg[1] + 1))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError("JPEG encoding failed")
    return buf.tobytes(), quality
