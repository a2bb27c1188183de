"""Place-value rules and field hypotheses from hand-made box probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from sipantau.ocr.assemble import (
    BAD_AFTER_DIGIT,
    EMPTY,
    field_hypotheses,
    plain_reading,
    tick_reading,
    value_probability,
)
from tests.probs import box, sure


@pytest.mark.parametrize(
    ("labels", "value"),
    [("XX5", 5), ("XXX", 0), ("045", 45), ("X05", 5), ("123", 123), ("__7", 7), ("_42", 42)],
)
def test_valid_readings(labels: str, value: int) -> None:
    assert plain_reading([c.replace("_", "") for c in labels]) == (value, [])


@pytest.mark.parametrize("labels", ["8XX", "X8X", "8__", "1_5", "X_5", "_X5", "_X_", "XX_"])
def test_invalid_readings_need_review(labels: str) -> None:
    value, reasons = plain_reading([c.replace("_", "") for c in labels])
    assert value is None and reasons and reasons != [EMPTY]


def test_tens_in_hundreds_box_is_not_800() -> None:
    assert plain_reading(["8", "X", "X"]) == (None, [BAD_AFTER_DIGIT])


def test_all_blank_is_empty() -> None:
    assert plain_reading(["", "", ""]) == (None, [EMPTY])


def test_max_value() -> None:
    assert plain_reading(["9", "9", "9"], max_value=600)[0] is None


def test_hypotheses_sum_label_strings_of_one_value() -> None:
    probs = np.stack([box(X=0.5, d0=0.3, blank=0.2), sure("0"), sure("5")])
    hyps = field_hypotheses(probs, 3)
    assert hyps[0].value == 5 and hyps[0].prob == pytest.approx(1.0, abs=1e-6)
    assert hyps[0].labels == ("X", "0", "5")


def test_hypotheses_are_products_ranked_and_valid_only() -> None:
    probs = np.stack([box(X=0.6, d8=0.4), box(X=0.9, d3=0.1), box(d5=0.7, d6=0.3)])
    hyps = field_hypotheses(probs, 4)
    assert [h.value for h in hyps] == [5, 6, 35, 835]
    got = {h.value: h.prob for h in field_hypotheses(probs, 20)}
    assert got[5] == pytest.approx(0.6 * 0.9 * 0.7, rel=1e-6)
    assert got[36] == pytest.approx(0.6 * 0.1 * 0.3, rel=1e-6)
    assert got[835] == pytest.approx(0.4 * 0.1 * 0.7, rel=1e-6)
    assert 805 not in got  # "8X5" is invalid, never a hypothesis
    assert sum(got.values()) == pytest.approx(1 - 0.4 * 0.9, rel=1e-6)


def test_value_probability_matches_hypotheses() -> None:
    probs = np.stack([box(X=0.7, d1=0.3), box(d1=0.5, d7=0.5), box(d2=0.8, d3=0.2)])
    for h in field_hypotheses(probs, 12):
        assert value_probability(probs, h.value) == pytest.approx(h.prob)


def test_empty_field_hypothesis_is_none() -> None:
    probs = np.stack([sure(""), sure(""), sure("")])
    assert field_hypotheses(probs, 2)[0].value is None


def test_long_field_uses_top_classes() -> None:
    probs = np.stack([sure("X"), sure("1"), sure("2"), sure("3"), box(d4=0.9, d9=0.1)])
    hyps = field_hypotheses(probs, 2, per_box=2)
    assert [h.value for h in hyps] == [1234, 1239]


@pytest.mark.parametrize(("row", "value"), [("X", 1), ("7", 1), ("", 0)])
def test_tick(row: str, value: int) -> None:
    assert tick_reading(sure(row)[None, :])[0] == value
    assert field_hypotheses(sure(row)[None, :], 2, kind="tick")[0].value == value
