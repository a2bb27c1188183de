"""Plausible per-TPS numbers for a template's fields that satisfy its checks (or, rarely, a slip).

Works from the template's field names and check expressions, not from a fixed form:
1. a TPS "story" (DPT, turnout, L/P split, DPTb/DPK, invalid rate, paslon shares, ballots) gives
   an integer for every field whose name it recognises (`dpt`, `gub_paslon_2`, `pemilih_dptb_l`,
   `surat_rusak`, ...), consistent with the domain's rules by construction;
2. the checks are parsed into linear forms; the "leaf" quantities (parts of sums) take their
   story value and every equality with a single unknown left is solved for it, so totals are
   always exact sums of what was generated, whatever the form's layout;
3. all checks are verified; a failing draw is retried.
With probability `slip_rate` one total (or one paslon) is then off by 1-20: an officer's slip.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np

from sipantau.templates.model import Template

Linear = tuple[dict[str, float], float]  # coefficients, constant
TOL = 1e-9


@dataclass(frozen=True)
class Values:
    """Values of every field (ticks 0/1), and whether they satisfy every check."""

    fields: dict[str, int]
    consistent: bool
    slip: str | None = None  # the field an officer got wrong, when one did


def _linear(node: ast.AST) -> Linear | None:
    """A linear form of an expression, or None when it is not linear."""
    if isinstance(node, ast.Name):
        return {node.id: 1.0}, 0.0
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return {}, float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _linear(node.operand)
        return None if inner is None else _scale(inner, -1.0)
    left = _linear(node.left) if isinstance(node, ast.BinOp) else None
    right = _linear(node.right) if isinstance(node, ast.BinOp) else None
    if not isinstance(node, ast.BinOp) or left is None or right is None:
        return None
    if isinstance(node.op, ast.Add | ast.Sub):
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        coef = dict(left[0])
        for k, v in right[0].items():
            coef[k] = coef.get(k, 0.0) + sign * v
        return coef, left[1] + sign * right[1]
    if isinstance(node.op, ast.Mult) and (not left[0] or not right[0]):
        return _scale(right, left[1]) if not left[0] else _scale(left, right[1])
    return None


def _scale(form: Linear, k: float) -> Linear:
    return {n: c * k for n, c in form[0].items()}, form[1] * k


def equalities(template: Template) -> list[tuple[Linear, Linear]]:
    """The `==` checks as (left, right) linear forms."""
    out = []
    for check in template.checks:
        tree = ast.parse(check.expr, mode="eval").body
        assert isinstance(tree, ast.Compare)
        left, right = _linear(tree.left), _linear(tree.comparators[0])
        if isinstance(tree.ops[0], ast.Eq) and left is not None and right is not None:
            out.append((left, right))
    return out


def check_holds(expr: str, values: dict[str, int]) -> bool:
    """Evaluate one check over `values` (only names, numbers and + - * reach eval)."""
    tree = ast.parse(expr, mode="eval").body
    assert isinstance(tree, ast.Compare)
    env = {k: float(v) for k, v in values.items()}
    code = compile(ast.Expression(tree), "<check>", "eval")
    return bool(eval(code, {"__builtins__": {}}, env))  # noqa: S307 - validated by CheckSpec


def failing_checks(template: Template, values: dict[str, int]) -> list[str]:
    return [c.expr for c in template.checks if not check_holds(c.expr, values)]


def _split(total: int, shares: np.ndarray, rng: np.random.Generator) -> list[int]:
    """`total` split into integers in proportion to `shares` (exact sum)."""
    if total <= 0:
        return [0] * len(shares)
    return [int(v) for v in rng.multinomial(total, shares / shares.sum())]


def _voters(rng: np.random.Generator) -> dict[str, int]:
    dpt = int(rng.integers(150, 601))
    dpt_l = int(rng.binomial(dpt, rng.uniform(0.46, 0.54)))
    turnout = rng.uniform(0.5, 0.9)
    s: dict[str, int] = {"dpt": dpt, "dpt_l": dpt_l, "dpt_p": dpt - dpt_l}
    for sex in ("l", "p"):
        s[f"pemilih_dpt_{sex}"] = int(rng.binomial(s[f"dpt_{sex}"], turnout))
        s[f"pemilih_dptb_{sex}"] = int(rng.choice([0, 0, 0, 1, 2, int(rng.integers(0, 8))]))
        s[f"pemilih_dpk_{sex}"] = int(rng.choice([0, 0, 1, int(rng.integers(0, 6))]))
    for kind in ("dpt", "dptb", "dpk"):
        s[f"pemilih_{kind}"] = s[f"pemilih_{kind}_l"] + s[f"pemilih_{kind}_p"]
    for sex in ("l", "p"):
        s[f"pemilih_{sex}"] = sum(s[f"pemilih_{k}_{sex}"] for k in ("dpt", "dptb", "dpk"))
    s["pemilih"] = s["pemilih_l"] + s["pemilih_p"]
    return s


def _race(voters: int, dpt: int, n_paslon: int, rng: np.random.Generator) -> dict[str, int]:
    """One race's votes and ballots for `voters` people."""
    invalid = int(rng.binomial(voters, rng.uniform(0.0, 0.04)))
    valid = voters - invalid
    shares = rng.dirichlet(np.full(n_paslon, rng.uniform(0.6, 3.0)))
    if rng.random() < 0.2:  # a minor paslon with a handful of votes
        shares[rng.integers(n_paslon)] = rng.uniform(0.0, 0.02)
    s = {f"paslon_{i + 1}": v for i, v in enumerate(_split(valid, shares, rng))}
    received = int(np.ceil(dpt * 1.025))
    damaged = int(rng.choice([0, 0, 0, 1, 2, int(rng.integers(0, 6))]))
    damaged = min(damaged, max(0, received - voters))
    s.update(
        pemilih=voters,
        suara_sah=valid,
        suara_tidak_sah=invalid,
        total_suara=voters,
        surat_diterima=received,
        surat_digunakan=voters,
        surat_rusak=damaged,
        surat_sisa=received - voters - damaged,
    )
    return s


SEX = {"l": "l", "lk": "l", "laki": "l", "p": "p", "pr": "p", "perempuan": "p"}
BALLOT = {
    "diterima": "diterima",
    "digunakan": "digunakan",
    "dipakai": "digunakan",
    "rusak": "rusak",
    "keliru": "rusak",
    "sisa": "sisa",
}


def story_key(name: str) -> str | None:
    """The story quantity a field name means, e.g. `gub_pemilih_dptb_l` -> `pemilih_dptb_l`."""
    tokens = name.split("_")
    sex = SEX.get(tokens[-1], "")
    suffix = f"_{sex}" if sex else ""
    m = re.search(r"paslon_?(\d+)", name)
    if m:
        return f"paslon_{int(m.group(1))}"
    if "surat" in tokens or "ballot" in tokens:
        found = [BALLOT[t] for t in tokens if t in BALLOT]
        if "tidak" in tokens and "digunakan" in tokens:
            return "surat_sisa"
        return f"surat_{found[0]}" if found else None
    if "sah" in tokens:
        return "suara_tidak_sah" if "tidak" in tokens else "suara_sah"
    if "suara" in tokens:
        return "total_suara"
    for kind in ("dptb", "dpk"):
        if kind in tokens:
            return f"pemilih_{kind}{suffix}"
    if "pemilih" in tokens or "hadir" in tokens:
        return f"pemilih_dpt{suffix}" if "dpt" in tokens else f"pemilih{suffix}"
    if "dpt" in tokens:
        return f"dpt{suffix}"
    return None


def _race_prefixes(template: Template) -> list[str]:
    """Race prefixes (`gub_`, `wako_`, or `` for a one-race form), from the paslon fields."""
    found = {
        re.sub(r"paslon_?\d+.*$", "", f.name)
        for f in template.digit_fields
        if re.search(r"paslon_?\d+", f.name)
    }
    return sorted(found) or [""]


def story(template: Template, rng: np.random.Generator) -> dict[str, int]:
    """A story value for every field whose name is recognised."""
    voters = _voters(rng)
    out: dict[str, int] = {}
    for f in template.digit_fields:  # fields of no race (DPT on the blanko)
        key = story_key(f.name)
        if key in voters and not re.search(r"paslon_?\d+", f.name):
            out[f.name] = voters[key]
    for i, prefix in enumerate(_race_prefixes(template)):
        n = sum(
            1
            for f in template.digit_fields
            if f.name.startswith(prefix)
            and story_key(f.name[len(prefix) :]) is not None
            and re.search(r"paslon_?\d+", f.name)
        )
        count = voters["pemilih"] - (int(rng.choice([0, 0, 0, 1, 2])) if i else 0)
        race = {**voters, **_race(max(count, 0), voters["dpt"], max(n, 1), rng)}
        for f in template.digit_fields:
            if not f.name.startswith(prefix):
                continue
            key = story_key(f.name[len(prefix) :])
            if key is not None and key in race:
                out[f.name] = race[key]
    return out


def _leaf_scores(eqs: list[tuple[Linear, Linear]]) -> dict[str, int]:
    """Parts of sums score up, totals down; `a == b` joins a and b into one class."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for left, right in eqs:
        if len(left[0]) == 1 and len(right[0]) == 1:
            parent[find(next(iter(left[0])))] = find(next(iter(right[0])))
    score: dict[str, int] = {}
    for left, right in eqs:
        for side, other in ((left, right), (right, left)):
            if len(side[0]) > 1 and len(other[0]) == 1:
                for n in side[0]:
                    score[find(n)] = score.get(find(n), 0) + 1
                for n in other[0]:
                    score[find(n)] = score.get(find(n), 0) - 1
    names = {n for left, right in eqs for n in (*left[0], *right[0])}
    return {n: score.get(find(n), 0) for n in names}


def _propagate(eqs: list[tuple[Linear, Linear]], known: dict[str, int], hi: int) -> bool:
    """Solve every equality with one unknown left; False on a non-integer or out-of-range one."""
    changed = True
    while changed:
        changed = False
        for left, right in eqs:
            coef = dict(left[0])
            for k, v in right[0].items():
                coef[k] = coef.get(k, 0.0) - v
            unknown = [k for k, c in coef.items() if k not in known and abs(c) > TOL]
            if len(unknown) != 1:
                continue
            rest = left[1] - right[1] + sum(c * known[k] for k, c in coef.items() if k in known)
            value = -rest / coef[unknown[0]]
            if abs(value - round(value)) > 1e-6 or not 0 <= round(value) <= hi:
                return False
            known[unknown[0]] = int(round(value))
            changed = True
    return True


def _ticks(template: Template, rng: np.random.Generator) -> dict[str, int]:
    """One tick set per section of tick fields ("aman"-like names far more often)."""
    out: dict[str, int] = {}
    sections: dict[str, list[str]] = {}
    for f in template.fields:
        if f.kind == "tick":
            sections.setdefault(f.section, []).append(f.name)
    for names in sections.values():
        weights = np.array([9.0 if "aman" in n else 1.0 for n in names])
        chosen = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        out.update({n: int(n == chosen) for n in names})
    return out


def _draw(template: Template, rng: np.random.Generator) -> dict[str, int] | None:
    eqs = equalities(template)
    scores = _leaf_scores(eqs)
    base = story(template, rng)
    known: dict[str, int] = {}
    order = sorted((f.name for f in template.digit_fields), key=lambda n: -scores.get(n, 0))
    for name in order:
        if not _propagate(eqs, known, template.max_value):
            return None
        if name not in known:
            known[name] = base.get(name, int(rng.integers(0, 20)))
    if not _propagate(eqs, known, template.max_value):
        return None
    known.update(_ticks(template, rng))
    return known if not failing_checks(template, known) else None


def _slip(template: Template, values: dict[str, int], rng: np.random.Generator) -> str | None:
    """Change one total (or a paslon) by 1-20 so that some check fails; the field changed."""
    names = sorted({n for left, right in equalities(template) for n in (*left[0], *right[0])})
    totals = [n for n in names if "paslon" not in n]
    paslon = [n for n in names if "paslon" in n]
    pool = paslon if (paslon and rng.random() < 0.4) or not totals else totals
    for _ in range(20):
        name = str(rng.choice(pool))
        delta = int(rng.integers(1, 21)) * int(rng.choice([-1, 1]))
        new = values[name] + delta
        if 0 <= new <= template.max_value:
            trial = {**values, name: new}
            if failing_checks(template, trial):
                values[name] = new
                return name
    return None


def make_values(
    template: Template, rng: np.random.Generator, slip_rate: float = 0.05, tries: int = 200
) -> Values:
    """Plausible values for every field; with probability `slip_rate`, one officer's slip."""
    slip_now = rng.random() < slip_rate
    for _ in range(tries):
        values = _draw(template, rng)
        if values is not None:
            break
    else:
        raise ValueError(f"no values satisfy the checks of template {template.id!r}")
    slipped = _slip(template, values, rng) if slip_now else None
    return Values(values, consistent=not failing_checks(template, values), slip=slipped)
