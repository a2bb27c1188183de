"""Calibration figures over box readings (confidence, right or wrong): reliability per
equal-width bin, errors promised against seen per band of claimed error, and the expected
calibration error. Shared by the calibration script and `sipantau bench scale`."""

from __future__ import annotations

import numpy as np

BINS = 15


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per equal-width confidence bin: its range, count, mean confidence and accuracy."""
    conf = np.asarray(conf, np.float64)
    correct = np.asarray(correct, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        sel = index == b
        n = int(sel.sum())
        out.append(
            {
                "lo": round(float(edges[b]), 4),
                "hi": round(float(edges[b + 1]), 4),
                "n": n,
                "confidence": float(conf[sel].mean()) if n else None,
                "accuracy": float(correct[sel].mean()) if n else None,
            }
        )
    return out


TAIL_EDGES = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # bands of 1 - confidence


def tail_reliability(conf: np.ndarray, correct: np.ndarray, digits: int = 2) -> list[dict]:
    """Per band of claimed error (1 - confidence, on a log scale): boxes, the errors the
    probabilities promise (to `digits` decimals) and the errors seen. The trust rule lives in
    these tails, which equal-width bins (ECE) hide."""
    q = 1.0 - np.asarray(conf, np.float64)
    wrong = ~np.asarray(correct, bool)
    out = []
    for lo, hi in zip(TAIL_EDGES[:-1], TAIL_EDGES[1:], strict=True):
        sel = (q >= lo) & (q < hi)
        out.append(
            {
                "claimed_error": f"[{lo:g}, {hi:g})",
                "n": int(sel.sum()),
                "expected_errors": round(float(q[sel].sum()), digits),
                "errors": int(wrong[sel].sum()),
            }
        )
    return out


def ece(conf: np.ndarray, correct: np.ndarray, bins: int = BINS) -> float | None:
    """Expected calibration error: sum over bins of (share of boxes) x |accuracy - confidence|."""
    total = len(conf)
    if total == 0:
        return None
    return float(
        sum(
            b["n"] / total * abs(b["accuracy"] - b["confidence"])
            for b in reliability(conf, correct, bins)
            if b["n"]
        )
    )
