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


def test_posterior_with_few_hypotheses_never_exceeds_the_exact_one() -> None:
    """A chain of sums (a + b = c, c + d = e) over one-digit fields with soft probabilities: with
    only 3 values a field searched, the bound on what was not searched keeps every posterior at
    or below the exact posterior over all 10^5 assignments."""
    import itertools

    from sipantau.ocr.assemble import Hypothesis
    from sipantau.ocr.joint import _beta

    checks = compile_checks(
        [
            CheckSpec(expr="a + b == c", rule="R1", message="R1"),
            CheckSpec(expr="c + d == e", rule="R2", message="R2"),
        ]
    )
    names = ("a", "b", "c", "d", "e")
    rng = np.random.default_rng(7)
    for _ in range(20):
        top = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 7}
        dist = {}
        for n in names:
            p = rng.dirichlet(np.full(10, 0.3)) * 0.1
            p[top[n]] += 0.9
            dist[n] = p / p.sum()
        full = {n: [Hypothesis(v, float(dist[n][v]), (str(v),)) for v in range(10)] for n in names}
        hyps = {n: sorted(h, key=lambda x: -x.prob)[:3] for n, h in full.items()}
        r = decode(hyps, checks, S)
        z, zv = 0.0, {n: np.zeros(10) for n in names}
        for vals in itertools.product(range(10), repeat=5):
            a, b, c, d, e = vals
            if a + b == c and c + d == e:
                m = float(np.prod([dist[n][v] for n, v in zip(names, vals, strict=True)]))
                z += m
                for n, v in zip(names, vals, strict=True):
                    zv[n][v] += m
        beta = _beta(5, S)
        for n in names:
            v = hyps[n][0].value
            exact = (beta * zv[n][v] + dist[n][v]) / (beta * z + 1.0)
            assert r.confidence(n, v) <= exact + 1e-12, (n, v)


def test_default_budget_searches_an_unsure_four_field_sum_to_the_end() -> None:
    """Four three-box fields, every box torn between three digits (as on photos we did not
    make): the search over 27^3 branches outgrows the old 20,000-node budget, whose unsearched
    bound then held every posterior down (here 0.04-0.13); the default budget finishes the
    search, and the written values' posteriors rise (0.15-0.48)."""
    checks = compile_checks([CheckSpec(expr="a + b + c == d", rule="R5", message="R5")])
    written = {"a": "123", "b": "210", "c": "104", "d": "437"}

    def torn(digit: str) -> np.ndarray:
        others = [d for d in "0123456789" if d != digit][:2]
        return box(**{f"d{digit}": 0.5, f"d{others[0]}": 0.26, f"d{others[1]}": 0.24})

    hyps = hyps_of({n: np.stack([torn(ch) for ch in text]) for n, text in written.items()})
    old = decode(hyps, checks, DecisionSettings(max_nodes=20_000))
    new = decode(hyps, checks, S)
    assert not old.complete and new.complete
    assert new.best is not None and new.best.values == {n: int(v) for n, v in written.items()}
    for n, v in written.items():
        assert (new.confidence(n, int(v)) or 0.0) > (old.confidence(n, int(v)) or 0.0)
