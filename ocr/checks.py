"""Template checks (`a + b == c`, `x <= dpt * 1.025`) compiled once from their AST, never `eval`."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from sipantau.templates.model import CheckSpec

Number = int | Fraction
Linear = dict[str, Number]  # field name -> coefficient; "" -> the constant term
Values = Mapping[str, int | None]

_CMP: dict[type[ast.cmpop], Callable[[Number, Number], bool]] = {
    ast.Eq: operator.eq,
    ast.LtE: operator.le,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.Gt: operator.gt,
}
_BIN: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}


@dataclass(frozen=True)
class CheckResult:
    """One check on one set of values: True, False, or None when a value it needs is missing."""

    expr: str
    rule: str
    message: str
    ok: bool | None


def _num(c: object) -> Number:
    """Exact number from a constant: 1.025 becomes 41/40, so 410 <= 400 * 1.025 holds."""
    f = Fraction(str(c))
    return f.numerator if f.denominator == 1 else f


def _linear(node: ast.expr) -> Linear | None:
    """`node` as coefficients of a linear form, or None when it multiplies two fields."""
    if isinstance(node, ast.Constant):
        return {"": _num(node.value)}
    if isinstance(node, ast.Name):
        return {node.id: 1}
    if isinstance(node, ast.UnaryOp):
        inner = _linear(node.operand)
        return None if inner is None else {k: -v for k, v in inner.items()}
    if not isinstance(node, ast.BinOp):
        return None
    left, right = _linear(node.left), _linear(node.right)
    if left is None or right is None:
        return None
    if isinstance(node.op, ast.Mult):
        if set(left) == {""}:
            return {k: left[""] * v for k, v in right.items()}
        if set(right) == {""}:
            return {k: right[""] * v for k, v in left.items()}
        return None
    sign = 1 if isinstance(node.op, ast.Add) else -1
    out = dict(left)
    for k, v in right.items():
        out[k] = out.get(k, 0) + sign * v
    return out


def _closure(node: ast.expr) -> Callable[[Mapping[str, int]], Number]:
    """A function evaluating `node` over values (used for non-linear expressions)."""
    if isinstance(node, ast.Constant):
        c = _num(node.value)
        return lambda v: c
    if isinstance(node, ast.Name):
        name = node.id
        return lambda v: v[name]
    if isinstance(node, ast.UnaryOp):
        inner = _closure(node.operand)
        return lambda v: -inner(v)
    if isinstance(node, ast.BinOp):
        op, left, right = _BIN[type(node.op)], _closure(node.left), _closure(node.right)
        return lambda v: op(left(v), right(v))
    raise ValueError(f"unsupported expression: {ast.dump(node)}")


@dataclass(frozen=True)
class CompiledCheck:
    """A check ready to run: its field names, comparison, and (if linear) coefficients."""

    spec: CheckSpec
    names: tuple[str, ...]
    is_equality: bool
    linear: Linear | None  # lhs - rhs as coefficients; None when not linear
    compare: Callable[[Number, Number], bool]
    lhs: Callable[[Mapping[str, int]], Number]
    rhs: Callable[[Mapping[str, int]], Number]

    def holds(self, values: Values) -> bool | None:
        """True/False on these values; None when one it needs is missing (None or absent)."""
        if any(values.get(n) is None for n in self.names):
            return None
        vals: Mapping[str, int] = values  # type: ignore[assignment]  # no value is None here
        if self.linear is not None:
            diff = sum((c * vals[k] if k else c for k, c in self.linear.items()), start=0)
            return bool(self.compare(diff, 0))
        return bool(self.compare(self.lhs(vals), self.rhs(vals)))

    def solve(self, name: str, values: Mapping[str, int]) -> int | None:
        """The integer value of `name` that makes this equality hold given the others, if any."""
        if not self.is_equality or self.linear is None or not self.linear.get(name):
            return None
        rest = sum(
            (c * values[k] if k else c for k, c in self.linear.items() if k != name), start=0
        )
        x = Fraction(-rest) / self.linear[name]
        return int(x) if x.denominator == 1 else None

    def can_solve(self, name: str) -> bool:
        """Whether `solve` can pin `name` (a linear equality with a non-zero coefficient)."""
        return self.is_equality and self.linear is not None and bool(self.linear.get(name))


@lru_cache(maxsize=512)
def compile_check(spec: CheckSpec) -> CompiledCheck:
    """Compile one CheckSpec (already validated by the template model)."""
    tree = ast.parse(spec.expr, mode="eval").body
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1:
        raise ValueError(f"check must be one comparison: {spec.expr!r}")
    left, right = tree.left, tree.comparators[0]
    lin_l, lin_r = _linear(left), _linear(right)
    linear: Linear | None = None
    if lin_l is not None and lin_r is not None:
        linear = dict(lin_l)
        for k, v in lin_r.items():
            linear[k] = linear.get(k, 0) - v
        linear = {k: v for k, v in linear.items() if v != 0 or k == ""}
    return CompiledCheck(
        spec=spec,
        names=tuple(spec.names),
        is_equality=isinstance(tree.ops[0], ast.Eq),
        linear=linear,
        compare=_CMP[type(tree.ops[0])],
        lhs=_closure(left),
        rhs=_closure(right),
    )


def compile_checks(specs: Sequence[CheckSpec | CompiledCheck]) -> tuple[CompiledCheck, ...]:
    """Compile a template's checks (each compiled once, cached)."""
    return tuple(s if isinstance(s, CompiledCheck) else compile_check(s) for s in specs)


def message_of(check: CompiledCheck) -> str:
    """The reviewer's message for a broken check (the template's, else a generic one)."""
    return check.spec.message or f"aturan {check.spec.rule or check.spec.expr} tidak terpenuhi"


def run_checks(checks: Sequence[CheckSpec | CompiledCheck], values: Values) -> list[CheckResult]:
    """Run every check on `values`; `ok` is None where a value it needs is missing."""
    out = []
    for c in compile_checks(checks):
        out.append(CheckResult(c.spec.expr, c.spec.rule, message_of(c), c.holds(values)))
    return out
