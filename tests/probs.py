"""Hand-made box probabilities for the tests of the decision stages."""

from __future__ import annotations

import numpy as np

from sipantau.ocr.types import CLASSES


def box(**probs: float) -> np.ndarray:
    """One box: keyword d0..d9, X, blank -> probability; the rest spread thinly."""
    row = np.full(12, 1e-9)
    for key, p in probs.items():
        row[CLASSES.index({"X": "X", "blank": ""}.get(key, key.lstrip("d")))] = p
    return row / row.sum()


def sure(label: str) -> np.ndarray:
    """A box read as `label` ("" for blank) with certainty."""
    return box(**{{"": "blank"}.get(label, label if label == "X" else "d" + label): 1.0})
