"""Field values, statuses and the form's status, from box probabilities, checks and the joint model.

The value reported is the plain reading (argmax per box + place-value rules), unless the joint
decoder's most probable consistent reading has a posterior of at least 1 - trust_risk: then it
is the value, marked `corrected` with the plain reading kept. A mere suggestion is never `ok`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from sipantau.ocr.assemble import (
    EMPTY,
    field_hypotheses,
    plain_labels,
    plain_reading,
    shown,
    tick_reading,
    value_probability,
)
from sipantau.ocr.checks import CheckResult, CompiledCheck, compile_checks, message_of
from sipantau.ocr.joint import JointResult, decode
from sipantau.ocr.settings import DecisionSettings
from sipantau.ocr.types import FieldReading
from sipantau.templates.model import FieldSpec, Template

Probs = npt.NDArray[np.float64]
NOT_READ = "kotak tidak terbaca"


@dataclass
class Verdict:
    """Every field's reading and the form's status, with reasons in Bahasa Indonesia."""

    fields: dict[str, FieldReading]
    status: Literal["ok", "review"]
    reasons: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    joint: JointResult | None = None


LOW = "keyakinan rendah"
CORRECTED = "dikoreksi mesin"


def _low(conf: float) -> str:
    """`keyakinan rendah (0.99976)`: rounded down, with the digits it takes never to read 1."""
    return f"{LOW} ({_below_one(conf)})"


def _below_one(conf: float) -> str:
    if conf >= 1.0:
        return "1.000"
    places = min(8, max(3, math.ceil(-math.log10(1.0 - conf)) + 1))
    return f"{math.floor(conf * 10**places) / 10**places:.{places}f}"


def _unreadable_check(c: CompiledCheck) -> str:
    return f"{c.spec.rule or c.spec.expr}: tidak dapat diperiksa (ada kolom kosong/tidak terbaca)"


def _read_digits(spec: FieldSpec, probs: Probs | None, max_value: int) -> FieldReading:
    """Plain reading of one digit field; status is settled later."""
    if probs is None or probs.shape[0] != len(spec.boxes):
        return FieldReading(spec.name, None, 0.0, "review", [NOT_READ])
    labels = plain_labels(probs)
    value, reasons = plain_reading(labels, max_value)
    if reasons:
        reasons = [r if r == EMPTY else f"{r} ({shown(labels)})" for r in reasons]
    conf = float(np.prod(probs.max(axis=1))) if value is None else value_probability(probs, value)
    return FieldReading(spec.name, value, conf, "review", reasons)


def _read_tick(spec: FieldSpec, probs: Probs | None, s: DecisionSettings) -> FieldReading:
    """A tick box: ok when its own probability clears the tick threshold."""
    if probs is None:
        return FieldReading(spec.name, None, 0.0, "review", [NOT_READ], kind="tick")
    value, conf = tick_reading(probs)
    ok = conf >= s.tick_ok_confidence
    return FieldReading(
        spec.name, value, conf, "ok" if ok else "review", [] if ok else [_low(conf)], kind="tick"
    )


def _one_of(
    specs: list[FieldSpec], fields: Mapping[str, FieldReading], s: DecisionSettings
) -> None:
    """Exactly one box of the group is read as ticked: its posterior among the patterns the
    form allows (exactly one ticked) is every box's confidence, ok above the tick threshold."""
    marked = [
        f.confidence if f.value == 1 else 1.0 - f.confidence
        for f in (fields[sp.name] for sp in specs)
    ]
    pattern = [
        m * float(np.prod([1.0 - o for j, o in enumerate(marked) if j != i]))
        for i, m in enumerate(marked)
    ]
    chosen = next(i for i, sp in enumerate(specs) if fields[sp.name].value == 1)
    posterior = pattern[chosen] / max(sum(pattern), 1e-300)
    for sp in specs:
        fr = fields[sp.name]
        fr.confidence = posterior
        fr.reasons = [r for r in fr.reasons if not r.startswith(LOW)]
        if posterior < s.tick_ok_confidence:
            fr.reasons.append(_low(posterior))
        fr.status = "review" if fr.reasons else "ok"


def _tick_groups(
    template: Template, fields: Mapping[str, FieldReading], s: DecisionSettings
) -> list[str]:
    """Tick boxes of one section are one choice: exactly one must be ticked."""
    sections: dict[str, list[FieldSpec]] = {}
    for f in template.fields:
        if f.kind == "tick":
            sections.setdefault(f.section, []).append(f)
    reasons = []
    for section, specs in sections.items():
        if len(specs) < 2:
            continue
        ticked = [fields[f.name].value for f in specs]
        label = section or "pilihan"
        if sum(v == 1 for v in ticked) != 1 or any(v is None for v in ticked):
            many = sum(v == 1 for v in ticked) > 1
            reason = f"{label}: {'lebih dari satu' if many else 'tidak ada yang'} dicentang"
            reasons.append(reason)
            for f in specs:
                fields[f.name].status = "review"
                fields[f.name].reasons.append(reason)
        else:
            _one_of(specs, fields, s)
    return reasons


def _apply_checks(
    fields: Mapping[str, FieldReading],
    checks: tuple[CompiledCheck, ...],
    results: list[CheckResult],
) -> None:
    """Every field of a check that fails (or cannot run) on the plain reading gets its reason."""
    for c, r in zip(checks, results, strict=True):
        if r.ok:
            continue
        reason = message_of(c) if r.ok is False else _unreadable_check(c)
        for n in c.names:
            if n in fields and reason not in fields[n].reasons:
                fields[n].reasons.append(reason)


def corrections(
    fields: Mapping[str, FieldReading], joint: JointResult, s: DecisionSettings
) -> dict[str, int]:
    """Values the decoder may set by itself: per component, all or nothing, and only when the
    posterior of every changed value reaches 1 - trust_risk (an unsure digit, not a slip)."""
    out: dict[str, int] = {}
    if joint.best is None:
        return out
    floor = 1.0 - s.trust_risk
    for comp in joint.components:
        best = {n: joint.best.values.get(n) for n in comp.names}
        changed = {n: v for n, v in best.items() if v is not None and v != fields[n].value}
        if changed and all(comp.confidence(n, v) >= floor for n, v in changed.items()):
            out.update(changed)
    return out


def _correct(fr: FieldReading, value: int) -> None:
    """Record a machine correction: the plain reading is kept beside the decoder's value."""
    fr.read_value, fr.value, fr.corrected = fr.value, value, True
    was = "tidak terbaca" if fr.read_value is None else str(fr.read_value)
    fr.reasons = [f"{CORRECTED}: terbaca {was}, menjadi {value} menurut aturan formulir"]


def _settle(fr: FieldReading, joint: JointResult, own: float, s: DecisionSettings) -> None:
    """Confidence, suggestion and status of one digit field whose reasons are already in."""
    posterior = joint.confidence(fr.name, fr.value, None if fr.corrected else own)
    linked = posterior is not None
    fr.confidence = posterior if posterior is not None and fr.value is not None else own
    best = joint.best.values.get(fr.name) if joint.best else None
    if linked and not fr.corrected and best is not None and best != fr.value:
        if (joint.confidence(fr.name, best) or 0.0) >= s.suggest_min_confidence:
            fr.suggestion = best
            fr.reasons.append(f"saran pemeriksaan aturan: {best}")
    if fr.value is not None and fr.confidence < 1.0 - s.trust_risk:
        fr.reasons.append(_low(fr.confidence))
    blocking = [r for r in fr.reasons if not r.startswith(CORRECTED)]
    ok = fr.value is not None and not blocking and fr.suggestion is None
    fr.status = "ok" if ok else "review"


def _form_reasons(
    fields: Mapping[str, FieldReading], results: list[CheckResult], tick_reasons: list[str]
) -> list[str]:
    """Short form-level reasons: how many fields need eyes, then the broken rules."""
    reasons = []
    n = sum(f.status != "ok" for f in fields.values())
    if n:
        reasons.append(f"{n} kolom perlu diperiksa")
    for r in results:
        text = r.message if r.ok is False else None
        if r.ok is None:
            text = f"{r.rule or r.expr}: tidak dapat diperiksa"
        if text and text not in reasons:
            reasons.append(text)
    return reasons + [t for t in tick_reasons if t not in reasons]


def judge(
    template: Template, box_probs: Mapping[str, Probs], settings: DecisionSettings
) -> Verdict:
    """Turn a form's per-box class probabilities into field readings and the form's status."""
    s, fields, hyps, own = settings, {}, {}, {}
    for spec in template.fields:
        raw = box_probs.get(spec.name)
        probs = None if raw is None else np.asarray(raw, dtype=np.float64).reshape(-1, 12)
        if spec.kind == "tick":
            fields[spec.name] = _read_tick(spec, probs, s)
            continue
        fr = fields[spec.name] = _read_digits(spec, probs, template.max_value)
        own[spec.name] = fr.confidence
        if probs is not None and NOT_READ not in fr.reasons:
            hyps[spec.name] = field_hypotheses(probs, s.top_k_per_field, per_box=s.top_k_per_box)
    checks = compile_checks(template.checks)
    joint = decode(hyps, checks, s)
    for name, value in corrections(fields, joint, s).items():
        _correct(fields[name], value)
    values = {n: f.value for n, f in fields.items()}
    results = [
        CheckResult(c.spec.expr, c.spec.rule, message_of(c), c.holds(values)) for c in checks
    ]
    _apply_checks(fields, checks, results)
    for name in own:
        _settle(fields[name], joint, own[name], s)
    tick_reasons = _tick_groups(template, fields, s)
    status: Literal["ok", "review"] = "ok"
    if any(f.status != "ok" for f in fields.values()) or any(r.ok is not True for r in results):
        status = "review"
    return Verdict(fields, status, _form_reasons(fields, results, tick_reasons), results, joint)
