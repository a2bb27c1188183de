"""Joint decoding: the most probable field values that satisfy the checks, and how sure we are.

Model (per component of fields linked by equality checks): the officer's form is consistent with
prior 1 - e, else one field slipped to one of `slip_values` nearby values. With CNN value
probabilities p_f (independent, calibrated), a consistent assignment then weighs (beta + 1) times
an inconsistent one, beta = (1 - e) / e * n_fields * slip_values, and
    P(f = v) = (beta * Zc(f = v) + p_f(v)) / (beta * (Zc + U) + 1),
Zc the consistent mass found, U a bound on consistent mass not found (outside the top-k, pruned,
or past the node budget), so confidence is never over-stated by what the search did not see.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from sipantau.ocr.assemble import Hypothesis
from sipantau.ocr.checks import CompiledCheck, Linear
from sipantau.ocr.settings import DecisionSettings


@dataclass(frozen=True)
class Assignment:
    """Values for a set of fields and their probability mass under the CNN alone."""

    values: dict[str, int]
    prob: float


@dataclass
class Component:
    """Fields linked by equality checks, decoded together."""

    names: tuple[str, ...]
    beta: float  # weight of consistency, see the module docstring
    z: float = 0.0  # consistent mass found
    u: float = 0.0  # bound on consistent mass not found
    marg: dict[str, dict[int, float]] = field(default_factory=dict)  # consistent mass by value
    own: dict[str, dict[int, float]] = field(default_factory=dict)  # p_f(v) from hypotheses
    solutions: list[Assignment] = field(default_factory=list)  # best first, truncated

    def confidence(self, name: str, value: int | None, own: float | None = None) -> float:
        """Posterior probability that field `name` is `value`; `own` overrides p_f(value)."""
        if value is None:
            return 0.0
        p = self.own[name].get(value, 0.0) if own is None else own
        num = self.beta * self.marg[name].get(value, 0.0) + p
        return min(1.0, num / (self.beta * (self.z + self.u) + 1.0))

    @property
    def p_consistent(self) -> float:
        """Posterior probability that the form, as written, is consistent here."""
        return self.beta * self.z / (self.beta * (self.z + self.u) + 1.0)


@dataclass
class JointResult:
    """Best consistent assignment of all fields, runners-up, and per-component posteriors."""

    best: Assignment | None
    runners_up: list[Assignment]
    components: list[Component]
    nodes: int
    complete: bool  # False when the node budget ran out

    def component_of(self, name: str) -> Component | None:
        return next((c for c in self.components if name in c.names), None)

    def confidence(self, name: str, value: int | None, own: float | None = None) -> float | None:
        """Posterior for `name` = `value`; None when the field is in no equality check."""
        comp = self.component_of(name)
        return None if comp is None else comp.confidence(name, value, own)


def components(names: Sequence[str], checks: Sequence[CompiledCheck]) -> list[tuple[str, ...]]:
    """Groups of fields linked by equality checks (union-find), in first-seen order."""
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    linked: set[str] = set()
    for c in checks:
        if c.is_equality and all(n in parent for n in c.names):
            linked.update(c.names)
            for n in c.names[1:]:
                parent[root(n)] = root(c.names[0])
    groups: dict[str, list[str]] = {}
    for n in names:
        if n in linked:
            groups.setdefault(root(n), []).append(n)
    return [tuple(g) for g in groups.values()]


def _closeness(name: str, open_counts: list[tuple[CompiledCheck, list[str]]]) -> tuple[int, int]:
    """Sort key: fields in the check nearest to closing first, then fields in more checks."""
    sizes = [len(rest) for _, rest in open_counts if name in rest]
    return (min(sizes, default=99), -len(sizes))


def search_order(
    names: Sequence[str], checks: Sequence[CompiledCheck]
) -> list[tuple[str, CompiledCheck | None, list[CompiledCheck]]]:
    """Fields in an order that closes checks early: (field, check pinning it, checks it closes)."""
    left, order = list(names), []
    while left:
        open_counts = [(c, [n for n in c.names if n in left]) for c in checks]
        pick: tuple[str, CompiledCheck | None] | None = next(
            ((rest[0], c) for c, rest in open_counts if len(rest) == 1 and c.can_solve(rest[0])),
            None,
        )
        if pick is None:
            pick = (min(left, key=partial(_closeness, open_counts=open_counts)), None)
        name, pin = pick
        left.remove(name)
        closes = [c for c, rest in open_counts if rest == [name] and c is not pin]
        order.append((name, pin, closes))
    return order


def _integer_sum(
    lin: Linear, skip: Collection[str] = ()
) -> Callable[[Mapping[str, int]], int] | None:
    """Fast `const + sum(c * values[k])` over a check's integer coefficients (the usual sums),
    the fields `skip` left out; None when a coefficient is not an integer."""
    if not all(isinstance(c, int) for c in lin.values()):
        return None
    const = int(lin.get("", 0))
    groups: dict[int, list[str]] = {}
    for k, c in lin.items():
        if k and k not in skip:
            groups.setdefault(int(c), []).append(k)
    parts = [(c, operator.itemgetter(*ks), len(ks) == 1) for c, ks in groups.items()]

    def total(values: Mapping[str, int]) -> int:
        out = const
        for c, get, single in parts:
            out += c * (get(values) if single else sum(get(values)))
        return out

    return total


def _pinner(name: str, check: CompiledCheck) -> Callable[[Mapping[str, int]], int | None]:
    """Fast `check.solve(name, values)` for integer coefficients (the usual sums)."""
    lin = check.linear or {}
    rest_of = _integer_sum(lin, skip=(name,))
    if rest_of is None:
        return lambda values: check.solve(name, values)
    a = int(lin[name])

    def solve(values: Mapping[str, int]) -> int | None:
        rest = rest_of(values)
        return -rest // a if rest % a == 0 else None

    return solve


def _tester(check: CompiledCheck) -> Callable[[Mapping[str, int]], bool]:
    """Fast `check.holds(values)` for integer coefficients, every value present (the search)."""
    total = _integer_sum(check.linear) if check.linear is not None else None
    if total is None:
        return lambda values: bool(check.holds(values))
    compare = check.compare

    def holds(values: Mapping[str, int]) -> bool:
        return bool(compare(total(values), 0))

    return holds


@dataclass(frozen=True)
class _NextPin:
    """The field after this one, pinned by a check: for an integer check its value is
    -(rest + c * v) / a, v this field's value and rest the check's sum without both fields."""

    own: dict[int, float]  # the pinned field's values and their probabilities
    solve: Callable[[Mapping[str, int]], int | None]
    rest: Callable[[Mapping[str, int]], int] | None  # None: not integer, use `solve`
    c: int = 0
    a: int = 1

    @classmethod
    def of(
        cls,
        name: str,
        nxt: str,
        check: CompiledCheck,
        solve: Callable[[Mapping[str, int]], int | None],
        own: dict[int, float],
    ) -> _NextPin:
        lin = check.linear or {}
        rest = _integer_sum(lin, skip=(name, nxt))
        if rest is None:
            return cls(own, solve, None)
        return cls(own, solve, rest, int(lin.get(name, 0)), int(lin[nxt]))


class _Search:
    """Depth-first branch and bound over one component's hypotheses, with a shared node budget."""

    def __init__(
        self,
        comp: Component,
        hyps: Mapping[str, list[Hypothesis]],
        checks: Sequence[CompiledCheck],
        s: DecisionSettings,
        budget: list[int],
    ) -> None:
        self.comp, self.s, self.budget = comp, s, budget
        self.order = search_order(comp.names, checks)
        self.opts = {
            n: [(h.value, h.prob) for h in hyps[n] if h.value is not None] for n in comp.names
        }
        self.tail = {
            n: [*itertools.accumulate([p for _, p in o][::-1])][::-1] + [0.0]
            for n, o in self.opts.items()
        }
        self.pins = {name: _pinner(name, pin) for name, pin, _ in self.order if pin is not None}
        self.tests = [[_tester(c) for c in closes] for _, _, closes in self.order]
        # the next field when a check pins it: its dead ends cost no call
        self.next_pin = [
            _NextPin.of(name, nxt, pin, self.pins[nxt], comp.own[nxt]) if pin is not None else None
            for (name, _, _), (nxt, pin, _) in zip(self.order[:-1], self.order[1:], strict=True)
        ] + [None]
        self.suffix = [1.0] * (len(self.order) + 1)
        for i in range(len(self.order) - 1, -1, -1):
            name, pin, _ = self.order[i]
            o = self.opts[name]
            step = (o[0][1] if o else 0.0) if pin is not None else self.tail[name][0]
            self.suffix[i] = self.suffix[i + 1] * step
        self.values: dict[str, int] = {}
        get = operator.itemgetter(*comp.names)
        self.assignment: Callable[[Mapping[str, int]], tuple[int, ...]] = (
            get if len(comp.names) > 1 else lambda values: (get(values),)
        )
        self.found: list[tuple[tuple[int, ...], float]] = []
        self.best = 0.0

    def run(self) -> None:
        self._dfs(0, 1.0)

    def _options(self, pos: int) -> list[tuple[int, float]]:
        name, pin, _ = self.order[pos]
        if pin is None:
            return self.opts[name]
        x = self.pins[name](self.values)
        p = self.comp.own[name].get(x, 0.0) if x is not None else 0.0
        return [(x, p)] if p > 0 and x is not None else []  # misses are inside U's top-k term

    def _dfs(self, pos: int, mass: float, options: list[tuple[int, float]] | None = None) -> None:
        """`options`: this field's, when the caller already solved its pinning check. The
        last field's children (complete assignments) are recorded here, not in a call each."""
        budget, values = self.budget, self.values
        budget[0] -= 1
        if pos == len(self.order):
            self._record(mass)
            return
        name, pin, _ = self.order[pos]
        tests = self.tests[pos]
        if options is None:
            options = self._options(pos)
        after = self.suffix[pos + 1]
        floor = max(self.s.prune_ratio * self.best, self.s.min_mass)
        nxt = self.next_pin[pos]
        last = pos + 1 == len(self.order)
        if nxt is not None:
            base = nxt.rest(values) if nxt.rest is not None else None
            c, a, own = nxt.c, nxt.a, nxt.own
        for i, (v, p) in enumerate(options):
            if budget[0] <= 0 or mass * p * after < floor:
                rest = self.tail[name][i] if pin is None else p
                self.comp.u += mass * rest * after
                break
            values[name] = v
            if tests and not all(t(values) for t in tests):
                continue
            if last:
                budget[0] -= 1
                self._record(mass * p)
            elif nxt is None:
                self._dfs(pos + 1, mass * p)
            else:
                if base is None:
                    x = nxt.solve(values)
                else:
                    r = base + c * v
                    x = -r // a if r % a == 0 else None
                px = own.get(x, 0.0) if x is not None else 0.0
                if x is None or not px > 0:
                    budget[0] -= 1  # the next field's node, which no value could pass
                    continue
                self._dfs(pos + 1, mass * p, [(x, px)])
        values.pop(name, None)

    def _record(self, mass: float) -> None:
        self.found.append((self.assignment(self.values), mass))
        self.best = max(self.best, mass)


def _decode_component(
    comp: Component,
    hyps: Mapping[str, list[Hypothesis]],
    checks: Sequence[CompiledCheck],
    s: DecisionSettings,
    budget: list[int],
) -> None:
    """Fill `comp` with its consistent solutions, masses and the bound on what was not seen."""
    inside = [c for c in checks if set(c.names) <= set(comp.names)]
    top = {n: hyps[n][0].value for n in comp.names if hyps[n]}
    top_ok = len(top) == len(comp.names) and all(c.holds(top) for c in inside)
    for n in comp.names:
        comp.own[n] = {h.value: h.prob for h in hyps[n] if h.value is not None}
        comp.marg[n] = {}
        hs = hyps[n]
        rest = max(0.0, 1.0 - sum(h.prob for h in hs))
        unseen = min(rest, hs[-1].prob) if hs else 0.0  # a value outside the top-k
        if top_ok:
            # the top values satisfy every equality: n at another value breaks each equality
            # that pins it unless another of that equality's fields is off its top value too
            pinning = [c.names for c in inside if c.can_solve(n)] or [comp.names]
            off = min(sum(1.0 - hyps[g][0].prob for g in names if g != n) for names in pinning)
            unseen *= min(1.0, off)
        comp.u += unseen
    search = _Search(comp, hyps, inside, s, budget)
    search.run()
    for vals, mass in search.found:
        comp.z += mass
        for n, v in zip(comp.names, vals, strict=True):
            comp.marg[n][v] = comp.marg[n].get(v, 0.0) + mass
    ranked = sorted(search.found, key=lambda t: -t[1])[: s.n_solutions]
    comp.solutions = [Assignment(dict(zip(comp.names, v, strict=True)), m) for v, m in ranked]


def _beta(n_fields: int, s: DecisionSettings) -> float:
    return (1.0 - s.slip_prior) / s.slip_prior * n_fields * s.slip_values


def _merge(parts: Sequence[Assignment]) -> Assignment:
    values: dict[str, int] = {}
    for a in parts:
        values.update(a.values)
    return Assignment(values, math.prod(a.prob for a in parts))


def _cross_ok(checks: Sequence[CompiledCheck], parts: Sequence[Assignment]) -> bool:
    values = _merge(parts).values
    return all(c.holds(values) is not False for c in checks)


def _combine(
    choices: list[list[Assignment]], cross: Sequence[CompiledCheck], budget: list[int]
) -> list[Assignment] | None:
    """Best option per variable such that the cross-variable checks hold (branch and bound)."""
    heads = [opts[0].prob for opts in choices]
    best: list[Assignment] | None = None
    best_p = -1.0

    def dfs(i: int, chosen: list[Assignment], mass: float) -> None:
        nonlocal best, best_p
        budget[0] -= 1
        if i == len(choices):
            if _cross_ok(cross, chosen) and mass > best_p:
                best, best_p = list(chosen), mass
            return
        for opt in choices[i]:
            if budget[0] <= 0 or mass * opt.prob * math.prod(heads[i + 1 :]) <= best_p:
                break
            if _cross_ok(cross, [*chosen, opt]):
                dfs(i + 1, [*chosen, opt], mass * opt.prob)

    dfs(0, [], 1.0)
    return best


def _choices(
    comps: Sequence[Component], hyps: Mapping[str, list[Hypothesis]], s: DecisionSettings
) -> list[list[Assignment]]:
    """Options per variable: a component's solutions, or a free field's hypotheses."""
    out = [c.solutions for c in comps if c.solutions]
    linked = {n for c in comps for n in c.names}
    for n, hs in hyps.items():
        if n in linked:
            continue
        opts = [Assignment({n: h.value}, h.prob) for h in hs if h.value is not None]
        if opts:
            out.append(opts[: s.n_solutions])
    return out


def _runners_up(
    best: list[Assignment], choices: list[list[Assignment]], cross: Sequence[CompiledCheck], n: int
) -> list[Assignment]:
    """Next assignments: the best with one variable's option swapped for a lesser one."""
    out = []
    for i, opts in enumerate(choices):
        for opt in opts:
            if opt is best[i]:
                continue
            parts = [*best[:i], opt, *best[i + 1 :]]
            if _cross_ok(cross, parts):
                out.append(_merge(parts))
    return sorted(out, key=lambda a: -a.prob)[:n]


def decode(
    hyps: Mapping[str, list[Hypothesis]],
    checks: Sequence[CompiledCheck],
    settings: DecisionSettings,
) -> JointResult:
    """Most probable assignment satisfying every check, runners-up and per-field posteriors."""
    checks = [c for c in checks if all(n in hyps for n in c.names)]
    budget = [settings.max_nodes]
    comps = [Component(g, _beta(len(g), settings)) for g in components(list(hyps), checks)]
    for comp in comps:
        _decode_component(comp, hyps, checks, settings, budget)
    cross = [c for c in checks if not any(set(c.names) <= set(k.names) for k in comps)]
    choices = _choices(comps, hyps, settings)
    parts = _combine(choices, cross, [settings.max_nodes]) if choices else None
    best = _merge(parts) if parts else None
    runners = _runners_up(parts, choices, cross, settings.n_solutions) if parts else []
    nodes = settings.max_nodes - budget[0]
    return JointResult(best, runners, comps, nodes, complete=budget[0] > 0)
