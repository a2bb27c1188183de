"""Figures for `sipantau bench scale`: upper bounds on error rates, calibration error, diagrams.

`upper_bound` is the one-sided 95 % bound on a rate from k events in n trials: the rule of
three (3/n) when there are none, else the exact (Clopper-Pearson) bound; `reliability_png`
draws the reliability diagram (the calibration figures: `ocr/training/reliability.py`).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

ALPHA = 0.05


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def clopper_pearson_upper(k: int, n: int, alpha: float = ALPHA) -> float:
    """The exact one-sided upper bound: the p at which seeing k or fewer has chance alpha."""
    if n <= 0:
        raise ValueError("no trials")
    if k >= n:
        return 1.0
    lo, hi = k / n, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if binom_cdf(k, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def upper_bound(k: int, n: int) -> float | None:
    """95 % upper bound on the rate of an event seen k times in n: 3/n when k is 0."""
    if n <= 0:
        return None
    return min(1.0, 3.0 / n) if k == 0 else clopper_pearson_upper(k, n)


def _panel(title: str, table: list[dict], size: int = 420) -> np.ndarray:
    """One reliability diagram: accuracy per confidence bin against the diagonal."""
    pad, img = 50, np.full((size + 80, size + 70, 3), 255, np.uint8)
    x0, y0 = pad, size + 20

    def pt(c: float, a: float) -> tuple[int, int]:
        return int(x0 + c * size), int(y0 - a * size)

    cv2.rectangle(img, pt(0, 0), pt(1, 1), (0, 0, 0), 1)
    cv2.line(img, pt(0, 0), pt(1, 1), (160, 160, 160), 1, cv2.LINE_AA)
    total = max(1, sum(b["n"] for b in table))
    for b in table:
        if not b["n"]:
            continue
        cv2.rectangle(img, pt(b["lo"], 0), pt(b["hi"], b["accuracy"]), (200, 120, 40), -1)
        cv2.rectangle(img, pt(b["lo"], 0), pt(b["hi"], b["accuracy"]), (90, 50, 10), 1)
        gap_top = max(b["accuracy"], b["confidence"])
        gap_bottom = min(b["accuracy"], b["confidence"])
        cv2.rectangle(img, pt(b["lo"], gap_bottom), pt(b["hi"], gap_top), (60, 60, 220), 1)
        share = b["n"] / total
        cv2.line(img, pt(b["lo"], -0.02), pt(b["lo"] + share * (b["hi"] - b["lo"]), -0.02),
                 (0, 0, 0), 3)  # fmt: skip
    for v in (0.0, 0.5, 1.0):
        cv2.putText(img, f"{v:.1f}", (pt(v, 0)[0] - 10, y0 + 32), 0, 0.4, (0, 0, 0), 1)
        cv2.putText(img, f"{v:.1f}", (8, pt(0, v)[1] + 4), 0, 0.4, (0, 0, 0), 1)
    cv2.putText(img, title, (x0, 16), 0, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "confidence", (x0 + size // 2 - 40, y0 + 52), 0, 0.4, (0, 0, 0), 1)
    legend = "bars: accuracy, red: gap to confidence, black: share of boxes"
    cv2.putText(img, legend, (x0 - 40, y0 + 72), 0, 0.35, (80, 80, 80), 1, cv2.LINE_AA)
    return img


def reliability_png(path: Path, panels: dict[str, list[dict]], eces: dict[str, float]) -> None:
    """Write one reliability diagram per generator, side by side, to `path` (PNG)."""
    images = [
        _panel(f"{name}: ECE {100 * (eces.get(name) or 0):.3f} %", t) for name, t in panels.items()
    ]
    if not images:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.hstack(images)):
        raise OSError(f"cannot write {path}")
