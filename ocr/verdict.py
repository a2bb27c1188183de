"""Field values, statuses and the form's status, from box probabilities, checks and the joint model.

The value reported is always the plain reading (argmax per box + place-value rules); the joint
decoder only decides how sure we are and what to suggest. A suggestion is never `ok`.
"""

from __future__ import annotations

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


def _low(conf: float) -> str:
    return f"{LOW} ({conf:.3f})"


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


def _settle(fr: FieldReading, joint: JointResult, own: float, s: DecisionSettings) -> None:
    """Confidence, suggestion and status of one digit field whose reasons are already in."""
    posterior = joint.confidence(fr.name, fr.value, own)
    linked = posterior is not None
    fr.confidence = posterior if posterior is not None and fr.value is not None else own
    threshold = s.field_ok_confidence if linked else s.standalone_ok_confidence
    best = joint.best.values.get(fr.name) if joint.best else None
    if linked and best is not None and best != fr.value:
        if (joint.confidence(fr.name, best) or 0.0) >= s.suggest_min_confidence:
            fr.suggestion = best
            fr.reasons.append(f"saran pemeriksaan aturan: {best}")
    if fr.value is not None and fr.confidence < threshold:
        fr.reasons.append(_low(fr.confidence))
    ok = fr.value is not None and not fr.reasons and fr.suggestion is None
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
    results = [
        CheckResult(
            c.spec.expr,
            c.spec.rule,
            message_of(c),
            c.holds({n: f.value for n, f in fields.items()}),
        )
        for c in checks
    ]
    _apply_checks(fields, checks, results)
    joint = decode(hyps, checks, s)
    for name in own:
        _settle(fields[name], joint, own[name], s)
    tick_reasons = _tick_groups(template, fields, s)
    status: Literal["ok", "review"] = "ok"
    if any(f.status != "ok" for f in fields.values()) or any(r.ok is not True for r in results):
        status = "review"
    return Verdict(fields, status, _form_reasons(fields, results, tick_reasons), results, joint)
