"""The one CSV reader of every import, and KPU's official-results CSV read through it."""

from __future__ import annotations

import pytest

from sipantau.api.domain.csvread import Problem, rows
from sipantau.api.domain.errors import Invalid
from sipantau.api.domain.official import parse_official
from sipantau.api.infra.models import Race

RACE = Race(id="walikota", short="wako", name="Wali Kota", paslon=["A", "B"], position=0)
KNOWN = {"1673011001-001", "1673011001-002", "1673011001-003"}


def test_csv_rows_and_problems() -> None:
    found: list[Problem] = []
    text = 'a,b\n\n# note, here\n"x\ny",2\n  \n3,4\n'
    assert [(r.line, r.cells) for r in rows(text, "f.csv", found, comments=True)] == [
        (1, ["a", "b"]),
        (4, ["x\ny", "2"]),
        (7, ["3", "4"]),
    ]
    assert [r.line for r in rows(text, "f.csv", found)] == [1, 3, 4, 7]  # the comment is a row
    assert found == []
    huge = "a\n" + "x" * 200_000 + "\nb\n"  # over the csv module's field limit
    assert [r.cells for r in rows(huge, "f.csv", found)] == [["a"]]
    assert [(p.line, p.file) for p in found] == [(2, "f.csv")] and "CSV" in found[0].message
    assert str(Problem(file="f.csv", line=2, message="m")) == "f.csv baris 2: m"
    assert str(Problem(line=2, message="m")) == "baris 2: m"
    assert str(Problem(message="m")) == "m"


def test_official_rows_read_through_quoted_newlines_with_true_line_numbers() -> None:
    text = (
        'tps,paslon_1,paslon_2,suara_sah\n"1673011001-001",10,"2\n0",30\n\n'
        "1673011001-002,1.234,5,\n"
    )
    with pytest.raises(Invalid) as caught:
        parse_official(text.encode(), RACE, KNOWN)
    assert caught.value.message == "baris 2: paslon_2 = '2\n0' bukan angka 0-100000"
    good = text.replace('"2\n0"', "20").encode()
    [a, b] = parse_official(good, RACE, KNOWN)
    assert (a.tps, a.votes, a.suara_sah, b.votes, b.suara_sah) == (
        "1673011001-001",
        [10, 20],
        30,
        [1234, 5],
        None,
    )
    broken = b"tps,paslon_1,paslon_2\n\n1673011001-001,1,x\n9999,1,2\n"
    with pytest.raises(Invalid) as caught:
        parse_official(broken, RACE, KNOWN)
    message = caught.value.message
    assert message.startswith("baris 3: paslon_2 = 'x'") and "baris 4: TPS '9999'" in message
    with pytest.raises(Invalid, match="baris 1: kolom 'paslon_2' tidak ada"):
        parse_official(b"tps,paslon_1\n1673011001-001,1\n", RACE, KNOWN)
