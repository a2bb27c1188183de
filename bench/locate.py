"""`sipantau bench locate`: located / rejected-with-reason per set and per template, on forged
photos (whole page in frame, read as chosen and with no form chosen as the service reads them,
turned, another form's) and on the real sets of ../shared/real/, registered as added templates
(also the Depok scan of ../shared/reference/)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sipantau.bench.reader import bare_decode_ms
from sipantau.ocr.types import FormReading

KWK = ("c-hasil-kwk-walikota", "c-hasil-kwk-gubernur")
TURNS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, default=12, help="forged photos per template (12)")
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--photos", type=Path, nargs="*", default=[], help="forged sets (truth.json)")
    p.add_argument(
        "--generator",
        choices=["eval", "samples"],
        default="eval",
        help="photo generator when no --photos: eval (default; no threshold was fitted on it)",
    )
    p.add_argument("--shared", type=Path, default=Path("../shared"), help="real sets (../shared)")
    p.add_argument("--out", type=Path, help="write locate.json here")


@dataclass
class Case:
    """One photo to read: under which template, and what is expected."""

    set: str
    name: str
    data: bytes
    template: str
    expect: str = "read"  # read | wrong_form:<id> | cut_off | rejected
    corners: np.ndarray | None = None  # truth page corners (photo px), when known
    values: dict[str, Any] | None = None  # truth values, when known
    chosen: bool = True  # False: read with no form chosen, as the service does; named right?


@dataclass
class Tally:
    photos: int = 0
    located: int = 0
    read: int = 0
    as_expected: int = 0
    wrong_turns: int = 0
    fields: int = 0
    fields_right: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)

    def add(self, case: Case, r: FormReading, turned_wrong: bool) -> None:
        self.photos += 1
        self.located += r.page is not None
        self.read += r.status != "rejected"
        code = r.reasons[0].code if r.status == "rejected" and r.reasons else ""
        if code:
            self.reasons[code] += 1
        if case.expect == "read":
            self.as_expected += r.status != "rejected" and (
                case.chosen or r.template == case.template
            )
        elif case.expect == "cut_off":
            self.as_expected += code == "cut_off"
        elif case.expect.startswith("wrong_form:"):
            named = case.expect.split(":", 1)[1]
            self.as_expected += code == "wrong_form" and f"'{named}'" in r.reasons[0].message
        else:
            self.as_expected += r.status == "rejected" and code != "wrong_form"
        self.wrong_turns += turned_wrong
        for name, want in (case.values or {}).items():
            if want == "ambiguous" or r.status == "rejected":
                continue
            self.fields += 1
            fr = r.fields.get(name)
            self.fields_right += fr is not None and fr.value == want

    def summary(self) -> dict[str, Any]:
        med = statistics.median(self.ms) if self.ms else None
        dec = statistics.median(self.decode_ms) if self.decode_ms else None
        return {
            "photos": self.photos,
            "located": self.located,
            "read": self.read,
            "as_expected": self.as_expected,
            "wrong_turns": self.wrong_turns,
            "fields_right": f"{self.fields_right}/{self.fields}" if self.fields else "",
            "rejected": dict(self.reasons.most_common()),
            "median_ms": round(med, 1) if med else None,
            "ratio_to_decode": round(med / dec, 2) if med and dec else None,
        }


def _turned(data: bytes, degrees: int, corners: np.ndarray | None) -> tuple[bytes, Any]:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    out = cv2.rotate(img, TURNS[degrees])
    if corners is not None:
        x, y = corners[:, 0], corners[:, 1]
        corners = {
            90: np.c_[h - 1 - y, x],
            180: np.c_[w - 1 - x, h - 1 - y],
            270: np.c_[y, w - 1 - x],
        }[degrees]
    return cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes(), corners


def _cut(data: bytes, corners: np.ndarray, side: str) -> bytes:
    """The photo cut through the middle of the page on `side` of the photo."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    cx, cy = (int(v) for v in corners.mean(axis=0))
    img = {"top": img[cy:], "bottom": img[:cy], "left": img[:, cx:], "right": img[:, :cx]}[side]
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def _inside(corners: np.ndarray, w: float | None, h: float | None) -> bool:
    if not w or not h:
        return True
    x, y = corners[:, 0], corners[:, 1]
    return bool(((x >= 0) & (x < w) & (y >= 0) & (y < h)).all())


def forged_cases(dirs: list[Path]) -> Iterator[Case]:
    """Every photo of each set (whole page in frame), one turn of each, and another form's."""
    for d in dirs:
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))["photos"]
        for i, t in enumerate(truth):
            data = (d / t["photo"]).read_bytes()
            corners = np.array(t["page_corners"], np.float64) if "page_corners" in t else None
            cam = t.get("camera", {})
            whole = corners is None or _inside(corners, cam.get("width"), cam.get("height"))
            kind = "forged" if whole else "forged-partial"
            base = Case(f"{kind}:{d.name}", t["photo"], data, t["template"], "read", corners)
            base.values = t.get("fields")
            yield base
            if whole:
                yield replace(base, set=f"unchosen:{d.name}", chosen=False)
            deg = (90, 180, 270)[i % 3]
            turned, tc = _turned(data, deg, corners)
            yield Case(f"turned:{d.name}", f"{t['photo']}@{deg}", turned, t["template"], "read", tc)
            if corners is not None and i % 2 == 0:
                side = ("top", "bottom", "left", "right")[(i // 2) % 4]
                name = f"{t['photo']}-cut-{side}"
                yield Case(
                    f"cut-off:{d.name}", name, _cut(data, corners, side), t["template"], "cut_off"
                )
            other = next((k for k in KWK if k != t["template"]), KWK[0])
            if t["template"] in KWK or i % 4 == 0:
                expect = f"wrong_form:{t['template']}"
                yield Case(f"other-form:{d.name}", t["photo"], data, other, expect)


def _register_real(shared: Path, into: Path) -> dict[str, Path]:
    """Each real set (and the Depok scan) added as a template under `into`; id -> its folder."""
    from sipantau.templates.register import add_template

    sets: dict[str, Path] = {}
    for d in sorted((shared / "real").glob("*/")):
        if (d / "reference.jpg").is_file() and (d / "kawalc1-boxes.json").is_file():
            tid = d.name.replace("_", "-")
            add_template(tid, d / "reference.jpg", d / "kawalc1-boxes.json", into)
            sets[tid] = d
    ref = shared / "reference" / "c1-kwk-2015-depok-lampiran.jpg"
    if ref.is_file():
        add_template("depok", ref, ref.with_name("c1-kwk-2015-depok-lampiran.boxes.json"), into)
        sets["depok"] = ref.parent
    return sets


def real_cases(sets: dict[str, Path]) -> Iterator[Case]:
    for tid, d in sets.items():
        if tid == "depok":
            scan = d / "c1-kwk-2015-depok-lampiran.jpg"
            values = {"dimas": 221, "idris": 221, "jumlah": 442, "tidak_sah": 6}
            yield Case("real:depok", scan.name, scan.read_bytes(), tid, "read", None, values)
            turned, _ = _turned(scan.read_bytes(), 180, None)
            yield Case("real:depok", f"{scan.name}@180", turned, tid, "read", None, values)
            continue
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))["photos"]
        for name, t in truth.items():
            data = (d / name).read_bytes()
            yield Case(f"real:{tid}", name, data, tid, "read", None, t["values"])
            yield Case(f"real-as-kwk:{tid}", name, data, KWK[0], "rejected")


def wrong_turn(case: Case, r: FormReading) -> bool:
    """Located with the page's corners in another order than the truth's (up to scale)."""
    if case.corners is None or r.page is None:
        return False
    quad = r.page.photo_quad.astype(np.float64)
    s = float((quad * case.corners).sum() / (quad * quad).sum())
    err = np.linalg.norm(s * quad - case.corners, axis=1).max()
    return bool(err > 0.05 * np.linalg.norm(case.corners[1] - case.corners[0]))


def run(cases: Iterator[Case], templates_dir: Path | None) -> dict[str, dict[str, Tally]]:
    from sipantau.ocr.digits import READERS
    from sipantau.ocr.pipeline import Reader
    from sipantau.templates import registry

    if templates_dir is not None:
        os.environ["SIPANTAU_TEMPLATES"] = str(templates_dir)
    registry.clear_cache()
    reader = Reader(registry.all_templates(), READERS["cnn"]())
    out: dict[str, dict[str, Tally]] = {}
    for case in cases:
        r = reader.read(case.data, case.name, case.template if case.chosen else None)
        for key in ("all", case.template):
            t = out.setdefault(case.set, {}).setdefault(key, Tally())
            t.add(case, r, wrong_turn(case, r))
            t.ms.append(r.ms)
            t.decode_ms.append(bare_decode_ms(case.data))
    return out


def _print(results: dict[str, dict[str, Tally]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    cols = ("photos", "located", "read", "as_expected", "wrong_turns", "fields_right")
    print(f"{'set / template':44s}" + "".join(f"{c:>13s}" for c in cols) + "  rejected")
    for s, by in results.items():
        for key, t in by.items():
            row = t.summary()
            report.setdefault(s, {})[key] = row
            label = s if key == "all" else f"  {key}"
            if key != "all" and len(by) == 2:
                continue  # one template only: the set's row says it all
            print(
                f"{label:44s}"
                + "".join(f"{str(row[c]):>13s}" for c in cols)
                + f"  {row['rejected']}  median {row['median_ms']} ms"
                + f" ({row['ratio_to_decode']}x decode)"
            )
    return report


def main(args: argparse.Namespace) -> int:
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = list(args.photos)
        if not dirs:
            from sipantau.samples.make import make_samples

            t0 = time.perf_counter()
            for i, tid in enumerate((*KWK, "sipantau-blanko")):
                d = Path(tmp) / tid
                make_samples(tid, args.count, d, args.seed + i, None, generator=args.generator)
                dirs.append(d)
            print(f"generated {3 * args.count} forged photos in {time.perf_counter() - t0:.0f} s")
        real: dict[str, Path] = {}
        if (args.shared / "real").is_dir():
            real = _register_real(args.shared, Path(tmp) / "templates")
        else:
            print(f"no real sets: {args.shared / 'real'} is missing")
        cases: Iterator[Case] = forged_cases(dirs)
        results = run(cases, Path(tmp) / "templates" if real else None)
        results.update(run(real_cases(real), Path(tmp) / "templates") if real else {})
        report = _print(results)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "locate.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0
