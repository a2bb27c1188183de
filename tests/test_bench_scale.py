"""`sipantau bench scale`: its bounds and calibration error on hand-made inputs, its tally,
and a small run end to end (photos cached, so the second run only reads)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sipantau.bench import scale
from sipantau.bench.stats import binom_cdf, clopper_pearson_upper, upper_bound
from sipantau.bench.tally import Group
from sipantau.ocr.training.reliability import ece, reliability, tail_reliability


def test_no_events_gives_the_rule_of_three() -> None:
    assert upper_bound(0, 3000) == pytest.approx(0.001)
    assert upper_bound(0, 2) == 1.0  # a bound is a probability
    assert upper_bound(0, 0) is None


def test_clopper_pearson_matches_known_values() -> None:
    # one-sided 95 %: solve P(X <= k; n, p) = 0.05 by hand for k = 1, n = 100 ...
    assert clopper_pearson_upper(1, 100) == pytest.approx(0.04656, abs=2e-5)
    # ... and for k = 0 the exact bound is 1 - 0.05^(1/n), just under 3/n
    assert clopper_pearson_upper(0, 3000) == pytest.approx(1 - 0.05 ** (1 / 3000), rel=1e-6)
    assert upper_bound(2, 50) == pytest.approx(0.120614, abs=2e-5)  # Beta(3, 48) at 0.95
    assert binom_cdf(2, 50, upper_bound(2, 50)) == pytest.approx(0.05, abs=1e-6)
    assert upper_bound(5, 5) == 1.0


def test_binomial_cdf() -> None:
    assert binom_cdf(0, 10, 0.5) == pytest.approx(1 / 1024)
    assert binom_cdf(10, 10, 0.3) == pytest.approx(1.0)
    assert binom_cdf(1, 3, 0.5) == pytest.approx(0.5)


def test_ece_on_hand_made_boxes() -> None:
    # 10 boxes at 0.9 of which 9 right: perfectly calibrated
    assert ece(np.full(10, 0.9), np.array([True] * 9 + [False])) == pytest.approx(0.0)
    # all at 1.0 and all wrong: as bad as it gets
    assert ece(np.ones(4), np.zeros(4, bool)) == pytest.approx(1.0)
    # two bins: 0.95 (2 boxes, both right: gap 0.05) and 0.55 (2 boxes, none right: gap 0.55)
    conf = np.array([0.95, 0.95, 0.55, 0.55])
    right = np.array([True, True, False, False])
    assert ece(conf, right) == pytest.approx(0.5 * 0.05 + 0.5 * 0.55)
    table = reliability(conf, right)
    assert len(table) == 15 and sum(b["n"] for b in table) == 4
    assert ece(np.array([]), np.array([], bool)) is None


def test_tail_reliability_counts_promised_and_seen_errors_per_band() -> None:
    # 3 boxes claiming 1e-5 error (one wrong: 100x worse than promised), 2 at 0.995, 1 at 0.5
    conf = np.array([1 - 1e-5] * 3 + [0.995] * 2 + [0.5])
    right = np.array([True, True, False, True, True, False])
    bands = {b["claimed_error"]: b for b in tail_reliability(conf, right)}
    assert bands["[0, 0.0001)"] == {
        "claimed_error": "[0, 0.0001)",
        "n": 3,
        "expected_errors": 0.0,
        "errors": 1,
    }
    assert bands["[0.001, 0.01)"]["n"] == 2 and bands["[0.001, 0.01)"]["errors"] == 0
    assert bands["[0.1, 1)"]["expected_errors"] == 0.5 and bands["[0.1, 1)"]["errors"] == 1
    assert sum(b["n"] for b in bands.values()) == 6


def _result(status: str, consistent: bool, fields: list[list], right: list[bool]) -> dict:
    return {
        "status": status,
        "consistent": consistent,
        "fields": fields,
        "right": right,
        "conf": [0.99] * len(right),
        "ms": 100.0,
        "decode_ms": 50.0,
    }


def test_a_wrong_ok_field_and_an_ok_slip_are_counted() -> None:
    g = Group()
    g.add(_result("ok", True, [["a", 5, 5, "ok", False, "digits", None]], [True]))
    g.add(_result("ok", True, [["a", 5, 6, "ok", True, "digits", None]], [False]))  # silent
    g.add(_result("ok", False, [["a", 7, 7, "ok", False, "digits", None]], [True]))  # a slip
    g.add(_result("review", True, [["a", 5, 6, "review", False, "digits", 5]], [False]))
    g.add(_result("review", True, [["a", 5, 6, "review", False, "digits", None]], [False]))
    g.add(_result("review", True, [["a", 4, 4, "review", False, "digits", None]], [True]))
    g.add(_result("rejected", True, [], []))
    s = g.summary()
    assert s["photos"] == 7 and s["rejected"] == 1
    assert s["silent_field_errors"] == 1 and s["silent_form_errors"] == 1
    assert s["inconsistent_ok"] == 1 and s["inconsistent_forms"] == 1
    assert s["corrected_ok_fields"] == 1 and s["corrected_ok_fields_wrong"] == 1
    assert s["consistent_auto_accepted_pct"] == 33.33  # 2 of the 6 consistent forms
    assert s["fields_right_pct"] == 50.0 and s["digit_accuracy_pct"] == 50.0
    assert s["misread_in_review"] == 2 and s["misread_suggested_right_pct"] == 50.0
    # read fully right: the first (ok) and the last read (review); the slip is not consistent
    assert s["consistent_read_right_pct"] == 33.33 and s["read_right_auto_accepted_pct"] == 50.0
    assert s["silent_form_bound95_pct"] == pytest.approx(100 * clopper_pearson_upper(1, 7))
    assert s["ratio_to_decode"] == 2.0


def test_jobs_cycle_sheets_and_levels(tmp_path: Path) -> None:
    jobs = scale.jobs_for(9, 1, ["samples", "eval"], tmp_path)
    assert len(jobs) == 18
    assert {(j.template, j.level) for j in jobs} == {
        (t, lv) for t in scale.TEMPLATES for lv in ("careful", "normal", "hurried")
    }
    assert jobs_prefix_is_stable(tmp_path)
    assert scale.version("eval") != scale.version("samples")


def jobs_prefix_is_stable(cache: Path) -> bool:
    """A longer run starts with the jobs of a shorter one: its cached photos are reused."""
    return scale.jobs_for(30, 1, ["eval"], cache)[:6] == scale.jobs_for(6, 1, ["eval"], cache)


def test_a_small_run_completes_and_reuses_its_photos(tmp_path: Path) -> None:
    args = argparse.Namespace(
        count=1,
        seed=3,
        generators="samples,eval",
        workers=1,
        slip_rate=0.05,
        cache=tmp_path / "cache",
        json=tmp_path / "bench.json",
        diagram=tmp_path / "rel.png",
    )
    assert scale.run(args) == 0
    first = json.loads(args.json.read_text(encoding="utf-8"))
    assert first["run"]["photos_made"] == 2
    assert set(first["generators"]) == {"samples", "eval"}
    for doc in first["generators"].values():
        s = doc["by_sheet"]["all"]["all"]
        assert s["photos"] == 1 and s["silent_form_bound95_pct"] == 100.0
        assert doc["ece_pct"] is None or 0 <= doc["ece_pct"] <= 100
    assert args.diagram.read_bytes()[:4] == b"\x89PNG"
    assert scale.run(args) == 0
    second = json.loads(args.json.read_text(encoding="utf-8"))
    assert second["run"]["photos_made"] == 0
    a = first["generators"]["eval"]["by_sheet"]["all"]["all"]
    b = second["generators"]["eval"]["by_sheet"]["all"]["all"]
    assert {k: v for k, v in a.items() if "ms" not in k and "ratio" not in k} == {
        k: v for k, v in b.items() if "ms" not in k and "ratio" not in k
    }
    assert math.isfinite(second["run"]["wall_s"])
