"""`sipantau bench locate`'s tallies on a committed sample: the photo, its turn, cut, another's,
and the photo read with no form chosen (as the service reads)."""

from __future__ import annotations

from pathlib import Path

from sipantau.bench.locate import forged_cases, run

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_locate_bench_tallies_by_set_and_template():
    cases = [c for c in forged_cases([SAMPLES]) if c.name.startswith("c-hasil-kwk-gubernur-0001")]
    kinds = {"forged", "unchosen", "turned", "cut-off", "other-form"}
    assert {c.set.split(":")[0] for c in cases} == kinds
    results = run(iter(cases), None)
    forged = results["forged:samples"]["all"].summary()
    assert forged["photos"] == 1 and forged["read"] == 1 and forged["wrong_turns"] == 0
    unchosen = results["unchosen:samples"]["c-hasil-kwk-gubernur"].summary()
    assert unchosen["as_expected"] == 1 and unchosen["fields_right"] == forged["fields_right"]
    turned = results["turned:samples"]["c-hasil-kwk-gubernur"].summary()
    assert turned["as_expected"] == 1 and turned["wrong_turns"] == 0
    cut = results["cut-off:samples"]["all"].summary()  # cut through the page's middle
    assert cut["read"] == 0 and set(cut["rejected"]) <= {"cut_off", "form_not_found"}
    other = results["other-form:samples"]["all"].summary()  # read as walikota: named by its QR
    assert other["as_expected"] == 1 and other["rejected"] == {"wrong_form": 1}
