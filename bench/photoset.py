"""Photos for the service benchmark: one C.HASIL-KWK photo per (TPS, race) of the demo election.

Each photo is made like `sipantau samples make` makes one (level "normal", 12 MP, the QR code
carrying the photo's own TPS), then downscaled to 2000 px on the long side and re-encoded as
JPEG quality 85: what the monitor page uploads. The form's DPT is the TPS's own, so a form read
right can be verified. Photos are cached under `.data/bench-photos/<seed>/` with a
`truth.json` like `samples/truth.json` (plus `race`, `dpt`).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import cv2
import numpy as np

if TYPE_CHECKING:
    from sipantau.samples.photo import Level

TPS_CSV = Path(__file__).resolve().parents[1] / "templates" / "election-demo-tps.csv"
CACHE = Path(".data") / "bench-photos"
RACES = {"gubernur": "c-hasil-kwk-gubernur", "walikota": "c-hasil-kwk-walikota"}
LEVEL: Level = "normal"
LONG_SIDE = 2000
QUALITY = 85
SLIP_RATE = 0.05
DPI = 300.0
RECIPE = f"kwk/{LEVEL}/{LONG_SIDE}px/q{QUALITY}/slip{SLIP_RATE}/v1"  # change it to remake
MAX_DPT = 900  # ballots (DPT + 2.5 %) must fit the form's three boxes


@dataclass(frozen=True)
class Job:
    """One photo to make: a TPS, its DPT, a race."""

    tps: str
    dpt: int
    race: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.tps}-{self.race}.jpg"


def load_tps(path: Path = TPS_CSV) -> list[tuple[str, int]]:
    """(TPS code, DPT) for every row of the demo election's TPS list, in file order."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(line for line in f if not line.lstrip().startswith("#"))
        return [(f"{r['kelurahan_code']}-{int(r['tps']):03d}", int(r["dpt"])) for r in rows]


def fake_tps(n: int = 24) -> list[tuple[str, int]]:
    """A small stand-in list (while the demo TPS list is missing): 3 kelurahan of n/3 TPS."""
    rng = np.random.default_rng(7)
    return [
        (f"16730{1 + i % 3}1001-{i // 3 + 1:03d}", int(rng.integers(200, 600))) for i in range(n)
    ]


def jobs_for(tps: list[tuple[str, int]], seed: int, count: int | None = None) -> list[Job]:
    """Every (TPS, race) pair, TPS by TPS, gubernur before walikota; the first `count`."""
    jobs = [Job(code, dpt, race, seed) for code, dpt in tps for race in RACES]
    return jobs[:count] if count is not None else jobs


def _fit_dpt(original: Any, dpt: int) -> Any:
    """A stand-in for `values._voters` that keeps its draws but rescales them to `dpt`."""

    def voters(rng: np.random.Generator) -> dict[str, int]:
        s = original(rng)
        k = dpt / s["dpt"]
        dpt_l = int(rng.binomial(dpt, s["dpt_l"] / s["dpt"]))
        s.update(dpt=dpt, dpt_l=dpt_l, dpt_p=dpt - dpt_l)
        for sex in ("l", "p"):
            s[f"pemilih_dpt_{sex}"] = min(s[f"dpt_{sex}"], round(s[f"pemilih_dpt_{sex}"] * k))
            s[f"pemilih_{sex}"] = sum(s[f"pemilih_{x}_{sex}"] for x in ("dpt", "dptb", "dpk"))
        for kind in ("dpt", "dptb", "dpk"):
            s[f"pemilih_{kind}"] = s[f"pemilih_{kind}_l"] + s[f"pemilih_{kind}_p"]
        s["pemilih"] = s["pemilih_l"] + s["pemilih_p"]
        return s

    return voters


def values_for(template: Any, rng: np.random.Generator, dpt: int, slip_rate: float) -> Any:
    """`samples.values.make_values`, with the story's DPT set to this TPS's `dpt`."""
    from sipantau.samples import values as values_mod

    with mock.patch.object(values_mod, "_voters", _fit_dpt(values_mod._voters, dpt)):
        return values_mod.make_values(template, rng, slip_rate=slip_rate)


def downscale(jpeg: bytes) -> tuple[bytes, float]:
    """The photo as the monitor page sends it: long side LONG_SIDE px, JPEG QUALITY; and scale."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    scale = min(1.0, LONG_SIDE / max(image.shape[:2]))
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise OSError("JPEG encoding failed")
    return buf.tobytes(), scale


def make_photo(job: Job, out: Path) -> dict[str, Any]:
    """Write one photo to `out`; its truth record. Deterministic in (seed, TPS, race)."""
    from sipantau.samples.fill import fill, random_writer
    from sipantau.samples.photo import take_photo
    from sipantau.templates.registry import get_template
    from sipantau.templates.render import render

    cv2.setNumThreads(1)
    template = get_template(RACES[job.race])
    kel, number = job.tps.split("-")
    rng = np.random.default_rng([job.seed, int(kel), int(number), list(RACES).index(job.race)])
    values = values_for(template, rng, min(job.dpt, MAX_DPT), SLIP_RATE)
    rendered = render(template, dpi=DPI, tps=job.tps)
    filled = fill(rendered, template, values.fields, rng, random_writer(rng, "holdout"))
    photo = take_photo(filled.image, rng, LEVEL, dpi=DPI)
    data, scale = downscale(photo.jpeg)
    (out / job.name).write_bytes(data)
    return {
        "photo": job.name,
        "template": template.id,
        "race": job.race,
        "tps": job.tps,
        "dpt": job.dpt,
        "level": LEVEL,
        "consistent": values.consistent,
        "fields": filled.fields,
        "written": filled.written,
        "page_corners": [
            [round(float(x) * scale, 1), round(float(y) * scale, 1)] for x, y in photo.corners
        ],
        "camera": {
            **photo.params,
            "jpeg_quality": QUALITY,
            "camera_jpeg_quality": photo.quality,
            "scale": round(scale, 4),
            "pen": filled.writer.pen,
        },
        "bytes": len(data),
    }


def _make(args: tuple[Job, Path]) -> dict[str, Any]:
    return make_photo(*args)


@dataclass(frozen=True)
class Photoset:
    """The photos of one run, in job order, and how many were made (not cached) this time."""

    folder: Path
    photos: list[dict[str, Any]]
    made: int
    seconds: float
    workers: int

    def path(self, record: dict[str, Any]) -> Path:
        return self.folder / record["photo"]


def _cached(folder: Path) -> dict[str, dict[str, Any]]:
    truth = folder / "truth.json"
    if not truth.exists():
        return {}
    doc = json.loads(truth.read_text(encoding="utf-8"))
    if doc.get("recipe") != RECIPE:
        return {}
    return {p["photo"]: p for p in doc["photos"] if (folder / p["photo"]).exists()}


def build(
    seed: int,
    count: int | None = None,
    root: Path = CACHE,
    workers: int | None = None,
    tps: list[tuple[str, int]] | None = None,
) -> Photoset:
    """Make (or reuse from the cache) the photos of the first `count` (TPS, race) pairs."""
    if tps is None:
        tps = load_tps() if TPS_CSV.exists() else fake_tps()
    jobs = jobs_for(tps, seed, count)
    folder = root / str(seed)
    folder.mkdir(parents=True, exist_ok=True)
    codes = {code for code, _ in tps}
    have = {k: v for k, v in _cached(folder).items() if v["tps"] in codes}
    todo = [j for j in jobs if have.get(j.name, {}).get("dpt") != j.dpt]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    t0 = time.perf_counter()
    if todo:
        # spawn, not fork: a child forked while another thread held a lock (OpenCV, logging)
        # can wait on it forever; seen when the test suite ran this after starting servers
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            for record in pool.map(_make, [(j, folder) for j in todo], chunksize=4):
                have[record["photo"]] = record
        doc = {
            "note": f"sipantau.bench.photoset seed {seed}; photos downscaled to {LONG_SIDE} px "
            f"long side, JPEG q{QUALITY} (as the monitor page uploads); holdout handwriting",
            "seed": seed,
            "recipe": RECIPE,
            "photos": sorted(have.values(), key=lambda p: p["photo"]),
        }
        tmp = folder / "truth.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        tmp.replace(folder / "truth.json")
    seconds = time.perf_counter() - t0
    return Photoset(folder, [have[j.name] for j in jobs], len(todo), seconds, workers)


def describe(ps: Photoset) -> str:
    size = sum(p["bytes"] for p in ps.photos) / max(1, len(ps.photos)) / 1e3
    made = (
        f"made {ps.made} in {ps.seconds:.1f} s on {ps.workers} processes "
        f"({ps.seconds * ps.workers / ps.made:.2f} s a photo a core)"
        if ps.made
        else "all cached"
    )
    return (
        f"{len(ps.photos)} photos ({made}) in {ps.folder}: 12 MP camera photos (level {LEVEL}) "
        f"downscaled to {LONG_SIDE} px long side, JPEG q{QUALITY} as the monitor page uploads; "
        f"mean {size:.0f} kB"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sipantau.bench.photoset", description=__doc__)
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--count", type=int, help="only the first N (TPS, race) pairs")
    p.add_argument("--workers", type=int, help="processes (default: every core)")
    p.add_argument("--root", type=Path, default=CACHE)
    args = p.parse_args(argv)
    ps = build(args.seed, args.count, args.root, args.workers)
    print(describe(ps))
    print(json.dumps({**asdict(ps), "folder": str(ps.folder), "photos": len(ps.photos)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
