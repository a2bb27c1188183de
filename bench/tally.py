"""Tallies for `sipantau bench scale`: one reading against its truth, groups, tables, JSON."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sipantau.bench.reader import box_labels
from sipantau.bench.stats import reliability_png, upper_bound
from sipantau.ocr.training.reliability import ece, reliability, tail_reliability
from sipantau.ocr.types import CLASSES, FormReading

if TYPE_CHECKING:
    from sipantau.samples.photo import Level

LEVELS: tuple[Level, ...] = ("careful", "normal", "hurried")
ALL = "all"


def compact(truth: dict[str, Any], reading: FormReading, decode_ms: float) -> dict[str, Any]:
    """The plain figures of one reading: form status, each field against its truth, each box's
    confidence and whether its top class is the written one (picklable, small)."""
    fields, conf, right = [], [], []
    for name, want in truth["fields"].items():
        fr = reading.fields.get(name)
        if fr is None:
            continue
        corrected = bool(getattr(fr, "corrected", False))
        fields.append([name, want, fr.value, fr.status, corrected, fr.kind, fr.suggestion])
        if fr.kind == "digits" and name in truth.get("written", {}):
            labels = box_labels(truth["written"][name], len(fr.boxes))
            for box, label in zip(fr.boxes, labels, strict=True):
                k = int(np.argmax(box.probs))
                conf.append(round(float(box.probs[k]), 7))
                right.append(CLASSES[k] == label)
    return {
        "template": truth["template"],
        "level": truth["level"],
        "photo": truth["photo"],
        "consistent": bool(truth["consistent"]),
        "status": reading.status,
        "reasons": [r.export() for r in reading.reasons[:2]]
        if reading.status == "rejected"
        else [],
        "ms": reading.ms,
        "decode_ms": decode_ms,
        "fields": fields,
        "conf": conf,
        "right": right,
    }


def group_keys(generator: str, template: str, level: str) -> list[tuple[str, str, str]]:
    return [
        (generator, ALL, ALL),
        (generator, ALL, level),
        (generator, template, ALL),
        (generator, template, level),
    ]


@dataclass
class Group:
    photos: int = 0
    rejected: int = 0
    consistent: int = 0
    consistent_ok: int = 0
    inconsistent: int = 0
    inconsistent_ok: int = 0
    forms_ok: int = 0
    silent_forms: int = 0
    fields: int = 0
    fields_right: int = 0
    ok_fields: int = 0
    silent_fields: int = 0
    corrected_ok: int = 0
    corrected_ok_wrong: int = 0
    misread_review: int = 0  # fields a person sees with a wrong value
    misread_suggested: int = 0  # of those, the decoder's suggestion is the written value
    consistent_right: int = 0  # consistent forms whose every field is read right (ok or not)
    consistent_right_ok: int = 0  # of those, auto-accepted: what the trust rule lets through
    boxes: int = 0
    boxes_right: int = 0
    ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)

    def add(self, r: dict[str, Any]) -> None:
        self.photos += 1
        self.ms.append(r["ms"])
        self.decode_ms.append(r["decode_ms"])
        self.consistent += r["consistent"]
        self.inconsistent += not r["consistent"]
        if r["status"] == "rejected":
            self.rejected += 1
            return
        wrong = False
        for _name, want, got, status, corrected, _kind, suggestion in r["fields"]:
            right = got == want
            wrong |= not right
            self.fields += 1
            self.fields_right += right
            if status != "ok" and not right:
                self.misread_review += 1
                self.misread_suggested += suggestion is not None and suggestion == want
            if status == "ok":
                self.ok_fields += 1
                self.silent_fields += not right
                self.corrected_ok += corrected
                self.corrected_ok_wrong += corrected and not right
        self.boxes += len(r["right"])
        self.boxes_right += sum(r["right"])
        if r["consistent"] and not wrong:
            self.consistent_right += 1
            self.consistent_right_ok += r["status"] == "ok"
        if r["status"] == "ok":
            self.forms_ok += 1
            self.consistent_ok += r["consistent"]
            self.inconsistent_ok += not r["consistent"]
            self.silent_forms += wrong

    def summary(self) -> dict[str, Any]:
        def pct(a: int, b: int) -> float | None:
            return round(100.0 * a / b, 2) if b else None

        med = statistics.median(self.ms) if self.ms else None
        dec = statistics.median(self.decode_ms) if self.decode_ms else None
        bound_forms = upper_bound(self.silent_forms, self.photos)
        bound_fields = upper_bound(self.silent_fields, self.ok_fields)
        return {
            "photos": self.photos,
            "rejected": self.rejected,
            "fields_right_pct": pct(self.fields_right, self.fields),
            "digit_accuracy_pct": pct(self.boxes_right, self.boxes),
            "boxes": self.boxes,
            "consistent_forms": self.consistent,
            "consistent_auto_accepted_pct": pct(self.consistent_ok, self.consistent),
            "consistent_read_right_pct": pct(self.consistent_right, self.consistent),
            "read_right_auto_accepted_pct": pct(self.consistent_right_ok, self.consistent_right),
            "forms_ok": self.forms_ok,
            "silent_form_errors": self.silent_forms,
            "silent_form_bound95_pct": None if bound_forms is None else 100 * bound_forms,
            "ok_fields": self.ok_fields,
            "silent_field_errors": self.silent_fields,
            "silent_field_bound95_pct": None if bound_fields is None else 100 * bound_fields,
            "inconsistent_forms": self.inconsistent,
            "inconsistent_ok": self.inconsistent_ok,
            "corrected_ok_fields": self.corrected_ok,
            "corrected_ok_fields_wrong": self.corrected_ok_wrong,
            "misread_in_review": self.misread_review,
            "misread_suggested_right_pct": pct(self.misread_suggested, self.misread_review),
            "median_ms": round(med, 1) if med else None,
            "p95_ms": round(float(np.percentile(self.ms, 95)), 1) if self.ms else None,
            "median_decode_ms": round(dec, 1) if dec else None,
            "ratio_to_decode": round(med / dec, 2) if med and dec else None,
        }


def summarise(
    groups: dict[tuple[str, str, str], Group],
    results: list[dict[str, Any]],
    generators: list[str],
    diagram: Path | None,
) -> dict[str, Any]:
    """Every group's figures, and each generator's calibration, as one JSON-ready dict."""
    out: dict[str, Any] = {"generators": {}}
    panels, eces = {}, {}
    for g in generators:
        mine = [r for r in results if r["generator"] == g]
        conf = np.array([c for r in mine for c in r["conf"]], np.float64)
        right = np.array([c for r in mine for c in r["right"]], bool)
        table = reliability(conf, right)
        eces[g] = ece(conf, right)
        panels[g] = table
        sheets: dict[str, dict[str, Any]] = {}
        for (gen, sheet, level), grp in sorted(groups.items()):
            if gen == g:
                sheets.setdefault(sheet, {})[level] = grp.summary()
        out["generators"][g] = {
            "by_sheet": sheets,
            "ece_pct": None if (e := eces[g]) is None else round(100 * e, 4),
            "reliability_bins": table,
            "tail": tail_reliability(conf, right),
            "rejected_reasons": _reasons(mine),
        }
    if diagram is not None and panels:
        reliability_png(diagram, panels, {k: v or 0.0 for k, v in eces.items()})
        out["diagram"] = str(diagram)
    return out


def _reasons(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        for reason in r["reasons"][:1]:
            counts[reason["code"]] = counts.get(reason["code"], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


COLUMNS = [  # (heading, key, format)
    ("photos", "photos", "{}"),
    ("rejected", "rejected", "{}"),
    ("fields right %", "fields_right_pct", "{}"),
    ("digits right %", "digit_accuracy_pct", "{}"),
    ("consistent auto-accepted %", "consistent_auto_accepted_pct", "{}"),
    ("consistent read fully right % / of those accepted %", "consistent_read_right_pct", "{}"),
    ("silent forms (95 % bound %)", "silent_form_errors", "{}"),
    ("silent fields (95 % bound %)", "silent_field_errors", "{}"),
    ("slips / counted ok", "inconsistent_ok", "{}"),
    ("ok fields corrected", "corrected_ok_fields", "{}"),
    ("misread in review / suggestion right %", "misread_in_review", "{}"),
    ("median / p95 ms", "median_ms", "{}"),
    ("x decode", "ratio_to_decode", "{}"),
]


def _cell(s: dict[str, Any], key: str, fmt: str) -> str:
    if key == "inconsistent_ok":
        return f"{s['inconsistent_forms']} / {s['inconsistent_ok']}"
    if key == "median_ms":
        return f"{s['median_ms']} / {s['p95_ms']}"
    if key == "consistent_read_right_pct":
        return f"{_num(s[key])} / {_num(s['read_right_auto_accepted_pct'])}"
    if key == "misread_in_review":
        return f"{s[key]} / {_num(s['misread_suggested_right_pct'])}"
    if key == "silent_form_errors":
        return f"{s[key]} ({_num(s['silent_form_bound95_pct'])})"
    if key == "silent_field_errors":
        return f"{s[key]} ({_num(s['silent_field_bound95_pct'])})"
    v = s.get(key)
    return "-" if v is None else fmt.format(v)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    """Markdown-ready rows: sheet, level, generator, then every column of COLUMNS."""
    rows = []
    gens = list(report["generators"])
    sheets = list(next(iter(report["generators"].values()))["by_sheet"]) if gens else []
    sheets = [ALL, *[x for x in sheets if x != ALL]]
    for sheet in sheets:
        for level in (ALL, *LEVELS):
            for g in gens:
                s = report["generators"][g]["by_sheet"].get(sheet, {}).get(level)
                if s is not None:
                    rows.append([sheet, level, g, *(_cell(s, k, f) for _, k, f in COLUMNS)])
    return rows


def print_tables(report: dict[str, Any]) -> None:
    """The figures as one Markdown table (sheet x level x generator), then calibration."""
    head = ["sheet", "level", "generator", *(h for h, _, _ in COLUMNS)]
    print("\n| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for row in table_rows(report):
        print("| " + " | ".join(row) + " |")
    for g, doc in report["generators"].items():
        print(f"\ngenerator {g}: digit model ECE (15 bins, aligned crops) {doc['ece_pct']} %")
        bands = ", ".join(
            f"{t['claimed_error']}: {t['errors']} seen, {t['expected_errors']} promised, n {t['n']}"
            for t in doc["tail"]
        )
        print(f"  box errors by claimed error: {bands}")
        if doc["rejected_reasons"]:
            print(f"  rejected because: {doc['rejected_reasons']}")
    if report.get("diagram"):
        print(f"reliability diagram: {report['diagram']}")
