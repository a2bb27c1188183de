"""`sipantau samples make`: filled forms photographed by phone, with their truth."""

from __future__ import annotations

import csv
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sipantau import templates
from sipantau.samples.evalgen.make import make_one as make_eval_one
from sipantau.samples.fill import fill, random_writer
from sipantau.samples.handwriting import Split
from sipantau.samples.photo import LEVELS, Level, take_photo
from sipantau.samples.values import make_values
from sipantau.templates.model import Template
from sipantau.templates.registry import get_template
from sipantau.templates.render import render

DEMO_TPS = Path(templates.__file__).with_name("election-demo-tps.csv")
DPI = 300.0
GENERATORS = ("samples", "eval")  # the training-side generator (default), the evaluation one


def demo_tps() -> list[str]:
    """The demo election's TPS codes, in file order (read directly: samples stay off the API)."""
    with DEMO_TPS.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return [f"{r['kelurahan_code']}-{int(r['tps']):03d}" for r in rows]


def tps_codes(seed: int, count: int) -> list[str]:
    """`count` TPS codes of the demo election, e.g. `1673011001-003`, in a seeded order;
    distinct up to the number of demo TPS (328), then repeating in the same cycle."""
    codes = demo_tps()
    order = np.random.default_rng([seed, 7]).permutation(len(codes))
    return [codes[int(order[i % len(codes)])] for i in range(count)]


def level_for(index: int, level: str | None) -> Level:
    if level is None:
        return LEVELS[index % len(LEVELS)]
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    return level


def make_one(
    template: Template,
    index: int,
    tps: str,
    level: Level,
    seed: int,
    slip_rate: float,
    out: Path,
    split: Split = "holdout",
) -> dict[str, Any]:
    """One photo written to `out`; returns its truth record. Deterministic in (seed, index)."""
    rng = np.random.default_rng([seed, index])
    values = make_values(template, rng, slip_rate=slip_rate)
    filled = fill(
        render(template, dpi=DPI, tps=tps), template, values.fields, rng, random_writer(rng, split)
    )
    photo = take_photo(filled.image, rng, level, dpi=DPI)
    name = f"{template.id}-{index + 1:04d}-{level}.jpg"
    (out / name).write_bytes(photo.jpeg)
    return {
        "photo": name,
        "template": template.id,
        "tps": tps,
        "level": level,
        "consistent": values.consistent,
        "fields": filled.fields,
        "written": filled.written,
        "page_corners": [[round(float(x), 1), round(float(y), 1)] for x, y in photo.corners],
        "camera": {**photo.params, "jpeg_quality": photo.quality, "pen": filled.writer.pen},
    }


def make_samples(
    template_id: str,
    count: int,
    out: Path,
    seed: int,
    level: str | None = None,
    slip_rate: float = 0.05,
    workers: int | None = None,
    split: Split = "holdout",
    generator: str = "samples",
) -> Path:
    """Write `count` photos `out/<template>-<n>-<level>.jpg` and `out/truth.json`; returns
    the truth file. `level` None cycles careful, normal, hurried. `split` "train" is for
    making the digit model's training crops only, never samples or the benchmark.
    `generator` "eval" is the evaluation generator (`samples.evalgen`): holdout or calib only."""
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {', '.join(GENERATORS)}, not {generator!r}")
    one = make_eval_one if generator == "eval" else make_one
    template = get_template(template_id)
    out.mkdir(parents=True, exist_ok=True)
    codes = tps_codes(seed, count)
    jobs = [(i, codes[i], level_for(i, level)) for i in range(count)]
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        records = list(
            pool.map(
                lambda job: one(template, job[0], job[1], job[2], seed, slip_rate, out, split),
                jobs,
            )
        )
    truth = out / "truth.json"
    doc = {"seed": seed, "generator": generator, "split": split, "photos": records}
    truth.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return truth
