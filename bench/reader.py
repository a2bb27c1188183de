"""`sipantau bench`: the reader's accuracy, silent errors and speed on freshly generated photos."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sipantau.ocr.types import CLASSES, FormReading

LEVELS = ("careful", "normal", "hurried")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, default=300, help="photos to generate (default 300)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--template", default="sipantau-blanko")
    p.add_argument("--photos", type=Path, help="bench on this folder (with truth.json) instead")
    p.add_argument("--out", type=Path, help="keep photos and bench.json here")
    p.add_argument(
        "--baseline",
        type=int,
        default=6,
        help="photos read with the pytesseract digit reader (slow; 0 to skip)",
    )


def box_labels(written: str, n: int) -> list[str]:
    """Truth labels per box from what was written, e.g. 'X45' -> ['X', '4', '5']."""
    chars = [c if (c.isdigit() or c == "X") else "" for c in written.ljust(n)[:n]]
    return chars


@dataclass
class Tally:
    photos: int = 0
    rejected: int = 0
    boxes: int = 0
    boxes_right: int = 0
    fields: int = 0
    fields_right: int = 0
    forms_ok: int = 0
    consistent: int = 0
    consistent_ok: int = 0
    silent_fields: int = 0
    silent_forms: int = 0
    inconsistent_ok: int = 0
    ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)
    confusions: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, truth: dict[str, Any], reading: FormReading) -> None:
        self.photos += 1
        self.ms.append(reading.ms)
        self.consistent += bool(truth["consistent"])
        if reading.status == "rejected":
            self.rejected += 1
            return
        form_wrong = False
        for name, value in truth["fields"].items():
            fr = reading.fields.get(name)
            if fr is None:
                continue
            right = fr.value == value
            self.fields += 1
            self.fields_right += right
            form_wrong |= not right
            if fr.status == "ok" and not right:
                self.silent_fields += 1
            if fr.kind == "digits" and name in truth.get("written", {}):
                for box, want in zip(
                    fr.boxes, box_labels(truth["written"][name], len(fr.boxes)), strict=True
                ):
                    self.boxes += 1
                    got = CLASSES[int(np.argmax(box.probs))]
                    self.boxes_right += got == want
                    if got != want:
                        self.confusions[f"{want or '_'}->{got or '_'}"] += 1
        if reading.status == "ok":
            self.forms_ok += 1
            self.consistent_ok += bool(truth["consistent"])
            self.silent_forms += form_wrong
            self.inconsistent_ok += not truth["consistent"]

    def summary(self) -> dict[str, Any]:
        def pct(a: int, b: int) -> float | None:
            return round(100.0 * a / b, 2) if b else None

        ms = sorted(self.ms)
        med = statistics.median(ms) if ms else None
        dec = statistics.median(self.decode_ms) if self.decode_ms else None
        return {
            "photos": self.photos,
            "rejected": self.rejected,
            "digit_accuracy_pct": pct(self.boxes_right, self.boxes),
            "boxes": self.boxes,
            "fields_right_pct": pct(self.fields_right, self.fields),
            "forms_auto_accepted_pct": pct(self.forms_ok, self.photos),
            "consistent_forms_auto_accepted_pct": pct(self.consistent_ok, self.consistent),
            "silent_field_errors": self.silent_fields,
            "silent_form_errors": self.silent_forms,
            "inconsistent_forms_ok": self.inconsistent_ok,
            "median_ms": round(med, 1) if med else None,
            "p95_ms": round(float(np.percentile(ms, 95)), 1) if ms else None,
            "median_bare_decode_ms": round(dec, 1) if dec else None,
            "ratio_to_decode": round(med / dec, 2) if med and dec else None,
            "top_confusions": dict(sorted(self.confusions.items(), key=lambda kv: -kv[1])[:8]),
        }


def bare_decode_ms(data: bytes) -> float:
    t0 = time.perf_counter()
    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return (time.perf_counter() - t0) * 1000


def run(photo_dir: Path, reader_name: str, limit: int | None = None) -> dict[str, Tally]:
    """Read every photo of `photo_dir/truth.json` and tally by camera level and overall."""
    from sipantau.ocr.digits import READERS
    from sipantau.ocr.pipeline import Reader
    from sipantau.templates.registry import all_templates

    truth = json.loads((photo_dir / "truth.json").read_text(encoding="utf-8"))["photos"]
    reader = Reader(all_templates(), READERS[reader_name]())
    tallies: dict[str, Tally] = defaultdict(Tally)
    for t in truth[:limit]:
        data = (photo_dir / t["photo"]).read_bytes()
        reading = reader.read(data, t["photo"], t["template"])
        dec = bare_decode_ms(data)
        for key in ("all", t.get("level") or "unknown"):
            tallies[key].add(t, reading)
            tallies[key].decode_ms.append(dec)
    return tallies


def _print(title: str, tallies: dict[str, Tally]) -> dict[str, Any]:
    out = {k: tallies[k].summary() for k in ("all", *LEVELS, "unknown") if k in tallies}
    print(f"\n== {title}")
    keys = list(next(iter(out.values())).keys())
    print(f"{'':34s}" + "".join(f"{k:>12s}" for k in out))
    for key in keys:
        if key == "top_confusions":
            continue
        print(f"{key:34s}" + "".join(f"{str(out[k][key]):>12s}" for k in out))
    print(f"{'top confusions (truth->read)':34s} {out['all']['top_confusions']}")
    return out


def main(args: argparse.Namespace) -> int:
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        photo_dir = args.photos
        if photo_dir is None:
            from sipantau.samples.make import make_samples

            photo_dir = args.out or Path(tmp) / "photos"
            t0 = time.perf_counter()
            make_samples(args.template, args.count, photo_dir, args.seed, None)
            print(
                f"generated {args.count} photos in {time.perf_counter() - t0:.0f} s "
                f"(seed {args.seed}, template {args.template}) -> {photo_dir}"
            )
        results = {"cnn": _print("digit reader: cnn (one core)", run(photo_dir, "cnn"))}
        if args.baseline:
            base = run(photo_dir, "tesseract", args.baseline)
            results["tesseract"] = _print(
                f"baseline digit reader: pytesseract, first {args.baseline} photos", base
            )
        if args.out:
            (args.out / "bench.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0
