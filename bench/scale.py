"""`sipantau bench scale`: the reader over thousands of forms from both generators, side by side.

Forms cycle over the blanko and both C.HASIL-KWK sheets and the three camera levels; each is
made by the training-side generator (`samples`) and by the evaluation generator (`eval`, which
nothing is trained or tuned on), with holdout handwriting. Photos are cached under
`.data/bench-cache/<generator>-<source hash>/<template>-<hash>/<seed>/` so a re-run only reads.
Two processes generate and read (one OpenCV thread each). Reported per generator, sheet and
level: fields read right, digit accuracy on the aligned crops, consistent forms auto-accepted,
silent errors (an `ok` field or form that is wrong) with their 95 % upper bound, inconsistent
paper counted `ok`, `ok` fields the decoder corrected, reading time against the bare JPEG
decode, and the digit model's expected calibration error with a reliability diagram.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sipantau.bench.tally import LEVELS, Group, group_keys, print_tables, summarise

if TYPE_CHECKING:
    from sipantau.samples.photo import Level

TEMPLATES = ("sipantau-blanko", "c-hasil-kwk-gubernur", "c-hasil-kwk-walikota")
GENERATORS = ("samples", "eval")
CACHE = Path(".data") / "bench-cache"
ROOT = Path(__file__).resolve().parents[1]
SOURCES = {  # what each generator's photos depend on: a change there makes new photos
    "samples": ["samples/fill.py", "samples/photo.py", "samples/make.py"],
    "eval": sorted(str(p.relative_to(ROOT)) for p in (ROOT / "samples/evalgen").glob("*.py")),
}
SHARED = ["samples/values.py", "samples/handwriting.py", "templates/render.py"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--count",
        "--forms",
        dest="count",
        type=int,
        default=3000,
        help="forms per generator (default 3000: 1,000 a sheet, a third at each camera level)",
    )
    p.add_argument("--seed", type=int, default=20261201)
    p.add_argument("--generators", default="samples,eval", help="samples,eval (default both)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--slip-rate", type=float, default=0.05, help="officer slips (default 0.05)")
    p.add_argument("--cache", type=Path, default=CACHE, help=f"photo cache ({CACHE})")
    p.add_argument("--json", type=Path, help="write every figure here as JSON")
    p.add_argument(
        "--diagram",
        type=Path,
        default=Path(".data") / "bench-reliability.png",
        help="reliability diagram PNG (default .data/bench-reliability.png)",
    )


@dataclass(frozen=True)
class Job:
    """One form: which generator makes it, of which sheet, its index, level, TPS and seed."""

    generator: str
    template: str
    index: int
    level: Level
    tps: str
    seed: int
    slip_rate: float
    folder: str  # its cache folder

    @property
    def stem(self) -> str:
        return f"{self.index:05d}-{self.level}"


def version(generator: str) -> str:
    """A short hash of the generator's source (its ink, paper, camera) and what it shares."""
    h = hashlib.sha256()
    for rel in [*SOURCES[generator], *SHARED]:
        h.update(rel.encode())
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:10]


def template_hash(template_id: str) -> str:
    from sipantau.templates.registry import get_template

    return hashlib.sha256(get_template(template_id).model_dump_json().encode()).hexdigest()[:8]


def jobs_for(
    count: int, seed: int, generators: list[str], cache: Path, slip_rate: float = 0.05
) -> list[Job]:
    """`count` forms per generator, cycling sheet then level; generators interleaved."""
    from sipantau.samples.make import tps_codes

    per = {t: (count - k + len(TEMPLATES) - 1) // len(TEMPLATES) for k, t in enumerate(TEMPLATES)}
    seeds = {t: seed * 10 + k for k, t in enumerate(TEMPLATES)}
    codes = {t: tps_codes(seeds[t], max(per[t], 1)) for t in TEMPLATES}
    folders = {
        (g, t): str(cache / f"{g}-{version(g)}" / f"{t}-{template_hash(t)}" / str(seeds[t]))
        for g in generators
        for t in TEMPLATES
    }
    jobs = []
    for i in range(count):
        t = TEMPLATES[i % len(TEMPLATES)]
        index = i // len(TEMPLATES)
        level = LEVELS[index % len(LEVELS)]
        for g in generators:
            folder = folders[(g, t)]
            jobs.append(Job(g, t, index, level, codes[t][index], seeds[t], slip_rate, folder))
    return jobs


_STATE: dict[str, Any] = {}


def _init() -> None:
    import cv2

    cv2.setNumThreads(1)


def photo_for(job: Job) -> tuple[bytes, dict[str, Any], bool]:
    """The job's photo and truth, from the cache or made now (and cached); whether made."""
    folder = Path(job.folder)
    jpg, meta = folder / f"{job.stem}.jpg", folder / f"{job.stem}.json"
    if meta.exists() and jpg.exists():
        return jpg.read_bytes(), json.loads(meta.read_text(encoding="utf-8")), False
    from sipantau.samples.evalgen.make import make_one as eval_one
    from sipantau.samples.make import make_one as samples_one
    from sipantau.templates.registry import get_template

    one = eval_one if job.generator == "eval" else samples_one
    tmp = folder / f".tmp-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    truth = one(
        get_template(job.template), job.index, job.tps, job.level, job.seed, job.slip_rate, tmp
    )
    os.replace(tmp / truth["photo"], jpg)
    meta.write_text(json.dumps(truth), encoding="utf-8")
    shutil.rmtree(tmp, ignore_errors=True)
    return jpg.read_bytes(), truth, True


def read_job(job: Job) -> dict[str, Any]:
    """Make or load one photo, read it on this core; the plain figures the tally needs."""
    from sipantau.bench.reader import bare_decode_ms
    from sipantau.bench.tally import compact

    if "reader" not in _STATE:
        from sipantau.ocr.digits import READERS
        from sipantau.ocr.pipeline import Reader
        from sipantau.templates.registry import all_templates

        _STATE["reader"] = Reader(all_templates(), READERS["cnn"]())
    t0 = time.perf_counter()
    data, truth, made = photo_for(job)
    made_s = time.perf_counter() - t0 if made else 0.0
    reading = _STATE["reader"].read(data, truth["photo"], job.template)
    out = compact(truth, reading, bare_decode_ms(data))
    return {**out, "generator": job.generator, "made_s": round(made_s, 3)}


def run_jobs(jobs: list[Job], workers: int, log: Any = sys.stderr) -> list[dict[str, Any]]:
    """Every job through a pool of `workers` processes (spawned: no inherited locks), or in
    this process when `workers` is 1."""
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def progress(k: int) -> None:
        if k % 100 == 0 or k == len(jobs):
            el = time.perf_counter() - t0
            made = sum(1 for x in results if x["made_s"])
            left = el / k * (len(jobs) - k)
            print(f"  {k}/{len(jobs)} photos ({made} made) in {el:.0f} s, about {left:.0f} s left",
                  file=log, flush=True)  # fmt: skip

    if workers <= 1:
        _init()
        for k, job in enumerate(jobs, 1):
            results.append(read_job(job))
            progress(k)
        return results
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init) as pool:
        for k, r in enumerate(pool.imap_unordered(read_job, jobs, chunksize=2), 1):
            results.append(r)
            progress(k)
    return results


def tally(results: list[dict[str, Any]]) -> dict[tuple[str, str, str], Group]:
    groups: dict[tuple[str, str, str], Group] = {}
    for r in results:
        for key in group_keys(r["generator"], r["template"], r["level"]):
            groups.setdefault(key, Group()).add(r)
    return groups


def run(args: argparse.Namespace) -> int:
    gens = [g.strip() for g in args.generators.split(",") if g.strip()]
    bad = [g for g in gens if g not in GENERATORS]
    if bad or not gens or args.count < 1:
        print(f"sipantau: --generators from {', '.join(GENERATORS)}; --count >= 1", file=sys.stderr)
        return 2
    jobs = jobs_for(args.count, args.seed, gens, args.cache, args.slip_rate)
    print(
        f"bench scale: {args.count} forms x {len(gens)} generators ({', '.join(gens)}), "
        f"seed {args.seed}, {args.workers} processes, cache {args.cache}",
        flush=True,
    )
    t0 = time.perf_counter()
    results = run_jobs(jobs, args.workers)
    wall = time.perf_counter() - t0
    report = summarise(tally(results), results, gens, args.diagram)
    report["run"] = {
        **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "func"},
        "wall_s": round(wall, 1),
        "photos_made": sum(1 for r in results if r["made_s"]),
        "make_s_total": round(sum(r["made_s"] for r in results), 1),
        "versions": {g: version(g) for g in gens},
        "jobs": len(jobs),
    }
    print_tables(report)
    print(f"\n{len(jobs)} photos in {wall:.0f} s ({report['run']['photos_made']} made this time)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(f"figures: {args.json}")
    return 0
