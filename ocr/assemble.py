"""Per-box class probabilities -> field readings, by the form's place-value rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from sipantau.ocr.types import BLANK_CLASS, CLASSES, N_CLASSES

Probs = npt.NDArray[np.float64]  # n_boxes x N_CLASSES

EMPTY = "kosong"
BAD_AFTER_DIGIT = "X atau kotak kosong di antara/sesudah angka (mis. 8X bukan 800)"
MIXED_FILL = "campuran X dan kotak kosong"
TOO_LARGE = "melebihi batas nilai"
FULL_ENUMERATION_MAX_BOXES = 4  # 12^4 label strings; beyond that only each box's top classes


@dataclass(frozen=True)
class Hypothesis:
    """One valid reading of a field: its value, probability (summed over label strings), labels."""

    value: int | None
    prob: float
    labels: tuple[str, ...]


def shown(labels: tuple[str, ...] | list[str]) -> str:
    """Labels as a reviewer reads them: blank as '_' (e.g. 'X_5')."""
    return "".join(lab or "_" for lab in labels)


def plain_reading(
    labels: tuple[str, ...] | list[str], max_value: int | None = None
) -> tuple[int | None, list[str]]:
    """Value of one label per box (left to right), or None with the reasons it needs a person."""
    if all(lab == "" for lab in labels):
        return None, [EMPTY]
    first = next((i for i, lab in enumerate(labels) if lab.isdigit()), None)
    if first is None:
        return (0, []) if all(lab == "X" for lab in labels) else (None, [MIXED_FILL])
    if len(set(labels[:first])) > 1:
        return None, [MIXED_FILL + " sebelum angka"]
    if not all(lab.isdigit() for lab in labels[first:]):
        return None, [BAD_AFTER_DIGIT]
    value = int("".join(labels[first:]))
    if max_value is not None and value > max_value:
        return None, [TOO_LARGE]
    return value, []


def plain_labels(probs: Probs) -> tuple[str, ...]:
    """The most probable class of each box."""
    return tuple(CLASSES[int(i)] for i in np.argmax(probs, axis=1))


@lru_cache(maxsize=8)
def _codes(n_boxes: int) -> npt.NDArray[np.int64]:
    """Value code of each label string of n boxes (C order): value, 10^n for None, -1 invalid."""
    none_code = 10**n_boxes
    codes = np.empty(N_CLASSES**n_boxes, dtype=np.int64)
    for i, labels in enumerate(itertools.product(CLASSES, repeat=n_boxes)):
        value, reasons = plain_reading(labels)
        codes[i] = none_code if reasons == [EMPTY] else (-1 if value is None else value)
    return codes


@lru_cache(maxsize=8)
def _label_strings(n_boxes: int) -> list[tuple[str, ...]]:
    """Every label string of n boxes, in the C order of `_codes` and `_joint`."""
    return list(itertools.product(CLASSES, repeat=n_boxes))


def _joint(probs: Probs) -> npt.NDArray[np.float64]:
    """Probability of every label string (outer product of the boxes), flattened in C order."""
    out = np.ones(1)
    for row in probs:
        out = np.multiply.outer(out, row).ravel()
    return out


def _enumerated(probs: Probs, per_box: int) -> dict[int | None, tuple[float, tuple[str, ...]]]:
    """Value -> (summed probability, best labels) over each box's `per_box` top classes."""
    tops = [np.argsort(row)[::-1][:per_box] for row in probs]
    out: dict[int | None, tuple[float, tuple[str, ...]]] = {}
    for combo in itertools.product(*tops):
        labels = tuple(CLASSES[int(c)] for c in combo)
        value, reasons = plain_reading(labels)
        if value is None and reasons != [EMPTY]:
            continue
        p = float(np.prod([probs[b, c] for b, c in enumerate(combo)]))
        old = out.get(value)
        if old is None:
            out[value] = (p, labels)
        else:
            out[value] = (old[0] + p, old[1] if old[0] >= p else labels)
    return out


@lru_cache(maxsize=8)
def _groups(
    n_boxes: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Valid label strings grouped by value code: (their indices, by code then C order; where
    each group starts; group number of each code)."""
    codes = _codes(n_boxes)
    perm = np.flatnonzero(codes >= 0)
    perm = perm[np.argsort(codes[perm], kind="stable")]
    values, starts = np.unique(codes[perm], return_index=True)
    group = np.full(10**n_boxes + 1, -1, np.int64)
    group[values] = np.arange(len(values))
    return perm, starts, group


def _best_strings(
    n_boxes: int, joint: npt.NDArray[np.float64], codes: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """For each value code, its most probable label string (the first in C order on a tie)."""
    perm, starts, group = _groups(n_boxes)
    jg = joint[perm]
    is_max = jg == np.repeat(np.maximum.reduceat(jg, starts), np.diff(starts, append=len(jg)))
    at = np.flatnonzero(is_max)
    return perm[at[np.searchsorted(at, starts[group[codes]])]]


def _full(probs: Probs, k: int) -> list[Hypothesis]:
    """The k most probable values by enumerating every label string of a short field."""
    n = probs.shape[0]
    codes, joint = _codes(n), _joint(probs)
    valid = codes >= 0
    mass = np.bincount(codes[valid], weights=joint[valid], minlength=10**n + 1)
    top = np.argsort(mass)[::-1][:k]
    top = top[mass[top] > 0]
    strings = _label_strings(n)
    labels = [strings[i] for i in _best_strings(n, joint, top).tolist()]
    none = 10**n
    return [
        Hypothesis(None if code == none else code, p, lab)
        for code, p, lab in zip(top.tolist(), mass[top].tolist(), labels, strict=True)
    ]


def field_hypotheses(
    probs: Probs, k: int, *, per_box: int = 4, kind: str = "digits"
) -> list[Hypothesis]:
    """The k most probable valid readings (value-level, probabilities summed), best first."""
    probs = np.asarray(probs, dtype=np.float64)
    if kind == "tick":
        marked = 1.0 - float(probs[0, BLANK_CLASS])
        hyps = [Hypothesis(1, marked, ("X",)), Hypothesis(0, 1.0 - marked, ("",))]
        return sorted(hyps, key=lambda h: -h.prob)[:k]
    if probs.shape[0] <= FULL_ENUMERATION_MAX_BOXES:
        return _full(probs, k)
    found = _enumerated(probs, per_box)
    ranked = sorted(found.items(), key=lambda kv: -kv[1][0])[:k]
    return [Hypothesis(v, p, labels) for v, (p, labels) in ranked]


def value_probability(probs: Probs, value: int | None) -> float:
    """Probability that the field's boxes read as `value` (all label strings that give it)."""
    probs = np.asarray(probs, dtype=np.float64)
    n = probs.shape[0]
    if n > FULL_ENUMERATION_MAX_BOXES:
        found = _enumerated(probs, 4)
        return found.get(value, (0.0, ()))[0]
    code = 10**n if value is None else value
    return float(_joint(probs)[_codes(n) == code].sum())


def tick_reading(probs: Probs) -> tuple[int, float]:
    """A tick box: 1 if marked (any ink: digit or X), else 0, with the probability of that."""
    marked = 1.0 - float(np.asarray(probs, dtype=np.float64).reshape(-1, N_CLASSES)[0, BLANK_CLASS])
    return (1, marked) if marked >= 0.5 else (0, 1.0 - marked)
