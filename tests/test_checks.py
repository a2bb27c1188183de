"""Template checks: compiled from the AST, exact with decimals, None when a value is missing."""

from __future__ import annotations

from sipantau.ocr.checks import compile_check, run_checks
from sipantau.templates.model import CheckSpec

R5 = CheckSpec(
    expr="a + b + c == sah",
    rule="R5",
    message="R5: jumlah suara paslon tidak sama dengan suara sah",
)
R7 = CheckSpec(expr="pemilih <= dpt * 1.025", rule="R7", message="R7: melebihi DPT + 2,5%")


def test_sum_holds_and_breaks_with_message() -> None:
    ok, bad = (
        run_checks([R5], {"a": 1, "b": 2, "c": 3, "sah": 6}),
        run_checks([R5], {"a": 1, "b": 2, "c": 3, "sah": 7}),
    )
    assert ok[0].ok is True
    assert bad[0].ok is False and bad[0].message.startswith("R5: jumlah suara paslon")
    assert bad[0].rule == "R5" and bad[0].expr == R5.expr


def test_missing_value_gives_none() -> None:
    assert run_checks([R5], {"a": 1, "b": None, "c": 3, "sah": 6})[0].ok is None
    assert run_checks([R5], {"a": 1, "c": 3, "sah": 6})[0].ok is None


def test_decimal_constant_is_exact() -> None:
    # 400 * 1.025 in floating point is 409.99999999999994; the rule must still allow 410.
    assert run_checks([R7], {"pemilih": 410, "dpt": 400})[0].ok is True
    assert run_checks([R7], {"pemilih": 411, "dpt": 400})[0].ok is False


def test_solve_pins_the_last_field() -> None:
    c = compile_check(R5)
    assert c.is_equality and c.can_solve("sah") and c.can_solve("a")
    assert c.solve("sah", {"a": 10, "b": 20, "c": 5}) == 35
    assert c.solve("b", {"a": 10, "c": 5, "sah": 35}) == 20
    assert not compile_check(R7).can_solve("dpt")


def test_non_linear_and_other_operators() -> None:
    prod = CheckSpec(expr="a * b == c")
    assert compile_check(prod).linear is None
    assert run_checks([prod], {"a": 3, "b": 4, "c": 12})[0].ok is True
    assert run_checks([CheckSpec(expr="a - -b > 2")], {"a": 1, "b": 1})[0].ok is False


def test_names_are_fields_never_code() -> None:
    spec = CheckSpec(expr="__import__ == 1")  # a Name, never looked up in Python
    assert run_checks([spec], {})[0].ok is None
    assert run_checks([spec], {"__import__": 1})[0].ok is True


def test_generic_message_when_template_has_none() -> None:
    assert (
        "a + b == c"
        in run_checks([CheckSpec(expr="a + b == c")], {"a": 1, "b": 1, "c": 3})[0].message
    )
