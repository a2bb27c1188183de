"""Joint decoding: consistent assignments, posteriors that account for what was not searched."""

from __future__ import annotations

import time

import numpy as np

from sipantau.ocr.assemble import field_hypotheses
from sipantau.ocr.checks import compile_checks
from sipantau.ocr.joint import components, decode, search_order
from sipantau.ocr.settings import DecisionSettings
from sipantau.templates.model import CheckSpec
from tests.probs import box, sure

S = DecisionSettings()


SUM = compile_checks([CheckSpec(expr="a + b == c", rule="R5", message="R5")])


def field(text: str) -> np.ndarray:
    return np.stack([sure(ch.replace("_", "")) for ch in text])


def hyps_of(fields: dict[str, np.ndarray]) -> dict:
    return {n: field_hypotheses(p, S.top_k_per_field) for n, p in fields.items()}


def test_confident_consistent_form_is_trusted() -> None:
    r = decode(hyps_of({"a": field("X12"), "b": field("X30"), "c": field("X42")}), SUM, S)
    assert r.best is not None and r.best.values == {"a": 12, "b": 30, "c": 42}
    assert r.confidence("a", 12) > 0.9999 and r.complete


def test_misread_is_fixed_by_the_sum() -> None:
    a = np.stack([sure("X"), sure("1"), box(d7=0.6, d2=0.4)])  # written 12, read 17
    r = decode(hyps_of({"a": a, "b": field("X30"), "c": field("X42")}), SUM, S)
    assert r.best is not None and r.best.values["a"] == 12
    assert r.confidence("a", 12) > 0.99 > 0.01 > r.confidence("a", 17)  # type: ignore[operator]


def test_cancelling_misreads_are_not_trusted() -> None:
    a = np.stack([sure("X"), sure("1"), box(d7=0.6, d2=0.4)])
    b = np.stack([sure("X"), sure("3"), box(d0=0.6, d5=0.4)])
    r = decode(hyps_of({"a": a, "b": b, "c": field("X47")}), SUM, S)
    assert r.best is not None and r.best.values == {"a": 17, "b": 30, "c": 47}
    assert {"a": 12, "b": 35, "c": 47} in [x.values for x in r.runners_up]
    assert r.confidence("a", 17) < 0.8  # 0.36 / (0.36 + 0.16)


def test_slip_leaves_the_written_values_possible() -> None:
    r = decode(hyps_of({"a": field("X12"), "b": field("X30"), "c": field("X43")}), SUM, S)
    comp = r.component_of("a")
    assert comp is not None and comp.p_consistent < 0.5  # an officer's slip explains it better
    assert r.confidence("c", 43) > 0.5


def test_mass_outside_top_k_lowers_confidence() -> None:
    rows = {
        "a": np.stack([sure("X"), box(d1=0.5, d2=0.5), box(d2=0.5, d3=0.5)]),
        "b": field("X30"),
        "c": np.stack([sure("X"), box(d4=0.5, d5=0.5), sure("2")]),
    }
    wide = decode({n: field_hypotheses(p, 12) for n, p in rows.items()}, SUM, S)
    narrow = decode({n: field_hypotheses(p, 1) for n, p in rows.items()}, SUM, S)
    assert narrow.confidence("a", 12) < wide.confidence("a", 12)  # type: ignore[operator]


def test_order_closes_checks_early_and_pins() -> None:
    checks = compile_checks([CheckSpec(expr="a + b == s"), CheckSpec(expr="s + t == total")])
    order = search_order(["total", "t", "s", "b", "a"], checks)
    assert [o[1] is not None for o in order].count(True) == 2
    assert components(["a", "b", "s", "t", "total", "x"], checks) == [("a", "b", "s", "t", "total")]


def test_hostile_form_stays_within_budget() -> None:
    n = 40
    exprs = [f"f{i} + f{i + 1} == f{i + 2}" for i in range(0, n - 2, 2)]
    checks = compile_checks([CheckSpec(expr=e) for e in exprs])
    flat = np.full((3, 12), 1 / 12)
    settings = DecisionSettings(max_nodes=2000, prune_ratio=0.0, min_mass=0.0)
    start = time.perf_counter()
    r = decode({f"f{i}": field_hypotheses(flat, 12) for i in range(n)}, checks, settings)
    assert time.perf_counter() - start < 2.0
    assert not r.complete and r.nodes <= 2000 + 1
    assert all((r.confidence(f"f{i}", 0) or 0.0) < 0.5 for i in range(n))
