"""Registration refinement and its measured quality: printed lines of the reference against the
photo warped onto it (ECC on line images), and how sharply they line up."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sipantau.ocr.types import GrayImage, Homography


def line_image(image: GrayImage) -> np.ndarray:
    """Printed strokes as float32 'darkness relative to the paper around them' (0..1), smoothed
    a little so that alignment has a basin a few pixels wide; lighting and paper tone cancel."""
    f = image.astype(np.float32)
    paper = cv2.dilate(f, np.ones((9, 9), np.uint8))
    dark = np.clip((paper - f) / (paper + 8.0), 0, 1)
    return cv2.GaussianBlur(dark, (0, 0), 1.2)


def _masked_ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    m = mask > 0
    if m.sum() < 100:
        return 0.0
    x, y = a[m], b[m]
    x = x - x.mean()
    y = y - y.mean()
    return float((x * y).sum() / (np.sqrt((x * x).sum() * (y * y).sum()) + 1e-9))


@dataclass(frozen=True)
class Alignment:
    """How well the printed lines of the reference and the warped photo coincide."""

    correlation: float  # NCC of the line images where the photo covers the reference
    peak: float  # share of it lost when the photo is shifted by a few line widths (0..1)
    coverage: float  # share of the reference's printed lines that the photo covers

    def summary(self) -> str:
        return f"lines ncc {self.correlation:.2f}, peak {self.peak:.2f}, cover {self.coverage:.2f}"


def alignment(ref_lines: np.ndarray, warped_lines: np.ndarray, mask: np.ndarray) -> Alignment:
    """Correlation at the found warp, against the best of four diagonal shifts by ~4 line widths
    (off every printed line at once): an alignment by chance (another form, a wrong turn) has no
    sharp peak, a real one does."""
    c0 = _masked_ncc(ref_lines, warped_lines, mask)
    d = max(3, int(round(ref_lines.shape[1] / 150)))
    shifted = []
    for dx, dy in ((d, d), (-d, -d), (d, -d), (-d, d)):
        M = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        moved = cv2.warpAffine(warped_lines, M, warped_lines.shape[::-1])
        shifted.append(_masked_ncc(ref_lines, moved, mask))
    peak = 1.0 - max(shifted) / c0 if c0 > 1e-6 else 0.0
    ink = ref_lines > 0.1
    cover = float((ink & (mask > 0)).sum() / max(1, ink.sum()))
    return Alignment(c0, float(np.clip(peak, 0, 1)), cover)


def refine_ecc(
    ref_lines: np.ndarray,
    warped_lines: np.ndarray,
    mask: np.ndarray,
    iterations: int = 10,
    start: Homography | None = None,
) -> Homography | None:
    """ECC homography W with warped(W x) ~ reference(x), on the line images; None when it does
    not converge (the coarse warp is then kept)."""
    W = np.eye(3, dtype=np.float32) if start is None else start.astype(np.float32)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-3)
    try:
        _, W = cv2.findTransformECC(
            ref_lines, warped_lines, W, cv2.MOTION_HOMOGRAPHY, crit, mask, 5
        )
    except cv2.error:
        return None
    if not np.all(np.isfinite(W)):
        return None
    return W.astype(np.float64)
