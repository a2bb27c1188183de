"""Form verdicts on the blanko from hand-made box probabilities: no wrong number is ever ok."""

from __future__ import annotations

import numpy as np
import pytest

from sipantau.ocr.settings import DecisionSettings
from sipantau.ocr.types import CLASSES
from sipantau.ocr.verdict import judge
from sipantau.templates.registry import get_template
from tests.probs import box as row

T = get_template("sipantau-blanko")
S = DecisionSettings()
RACE = {
    "pemilih": 300,
    "paslon_1": 120,
    "paslon_2": 95,
    "paslon_3": 70,
    "suara_sah": 285,
    "suara_tidak_sah": 15,
    "total_suara": 300,
}


def sure(label: str, p: float = 1.0) -> np.ndarray:
    """A box read as `label` with probability p, the rest on one neighbour class."""
    out = np.full(12, 1e-9)
    out[CLASSES.index(label)] = p
    out[(CLASSES.index(label) + 1) % 12] += 1 - p
    return out / out.sum()


def digits(value: int) -> np.ndarray:
    text = str(value).rjust(3, "X")
    return np.stack([sure(c) for c in text])


def form(**override: int) -> dict[str, np.ndarray]:
    values = {f"{r}_{k}": v for r in ("gub", "wako") for k, v in RACE.items()}
    values |= override
    probs = {k: digits(v) for k, v in values.items()}
    probs["situasi_aman"] = sure("X")[None, :]
    probs["situasi_insiden"] = sure("")[None, :]
    return probs


def test_clean_form_is_ok() -> None:
    v = judge(T, form(), S)
    assert v.status == "ok" and v.reasons == []
    assert all(f.status == "ok" for f in v.fields.values())
    assert v.fields["gub_paslon_1"].export() == {
        "value": 120,
        "confidence": 1.0,
        "status": "ok",
        "reasons": [],
        "suggestion": None,
        "corrected": False,
        "read_value": None,
    }


def test_misread_caught_by_sum_and_suggested() -> None:
    probs = form()
    probs["gub_paslon_1"][2] = row(d7=0.8, d0=0.2)  # written 120, read 127: the 7 looks likely
    v = judge(T, probs, S)
    f = v.fields["gub_paslon_1"]
    assert v.status == "review" and f.status == "review"
    assert f.value == 127 and f.suggestion == 120  # the plain reading is reported, fix suggested
    assert any(r.startswith("R5") for r in f.reasons)
    assert v.fields["gub_suara_sah"].status == "review" and v.fields["wako_paslon_1"].status == "ok"
    assert "R5: jumlah suara paslon tidak sama dengan suara sah" in v.reasons


def test_resolvable_misread_is_corrected_and_marked() -> None:
    """An unsure digit that the sums pin down: ok, with the plain reading kept beside it."""
    probs = form()
    probs["gub_paslon_1"][2] = row(d7=0.55, d0=0.45)  # written 120, read 127 by a hair
    v = judge(T, probs, S)
    f = v.fields["gub_paslon_1"]
    assert v.status == "ok" and f.status == "ok"
    assert f.value == 120 and f.corrected and f.read_value == 127 and f.suggestion is None
    assert f.confidence >= 1 - S.trust_risk
    assert f.reasons == ["dikoreksi mesin: terbaca 127, menjadi 120 menurut aturan formulir"]
    assert f.export()["corrected"] is True and f.export()["read_value"] == 127
    assert not v.fields["gub_suara_sah"].corrected and v.fields["gub_suara_sah"].status == "ok"
    assert all(r.ok for r in v.checks)


def test_correction_needs_the_trust_floor() -> None:
    """The same misread under a stricter risk setting is only a suggestion."""
    probs = form()
    probs["gub_paslon_1"][2] = row(d7=0.55, d0=0.45)
    v = judge(T, probs, S.model_copy(update={"trust_risk": 1e-6}))
    f = v.fields["gub_paslon_1"]
    assert v.status == "review" and f.status == "review" and not f.corrected
    assert f.value == 127 and f.suggestion == 120


def test_slip_prior_weighs_against_correction() -> None:
    """With slips on paper thought common, an unsure digit is no longer resolved alone."""
    probs = form()
    probs["gub_paslon_1"][2] = row(d7=0.55, d0=0.45)
    v = judge(T, probs, S.model_copy(update={"slip_prior": 0.2}))
    assert v.fields["gub_paslon_1"].status == "review" and v.status == "review"


def test_invalid_plain_reading_resolved_by_the_sums() -> None:
    """'12X' is no number; when its last box is barely X and the sum says 0, it reads 120."""
    probs = form()
    probs["gub_paslon_1"][2] = row(X=0.55, d0=0.45)
    v = judge(T, probs, S)
    f = v.fields["gub_paslon_1"]
    assert f.value == 120 and f.corrected and f.read_value is None and f.status == "ok"


def test_consistent_by_coincidence_stays_review() -> None:
    probs = form()
    probs["gub_paslon_1"][2] = row(d5=0.6, d0=0.4)  # written 120, read 125
    probs["gub_paslon_2"][2] = row(d0=0.6, d5=0.4)  # written 95, read 90: the sum still holds
    v = judge(T, probs, S)
    assert v.checks[0].ok is True
    assert v.fields["gub_paslon_1"].status == "review"
    assert v.fields["gub_paslon_1"].confidence < 1 - S.trust_risk
    assert v.status == "review"


def test_officer_slip_is_never_ok() -> None:
    v = judge(T, form(gub_suara_sah=286), S)  # confident boxes, arithmetic wrong on paper
    assert v.status == "review"
    for name in (
        "gub_paslon_1",
        "gub_paslon_2",
        "gub_paslon_3",
        "gub_suara_sah",
        "gub_suara_tidak_sah",
        "gub_total_suara",
    ):
        assert v.fields[name].status == "review", name
    assert v.fields["gub_suara_sah"].value == 286


def test_eight_x_is_never_800() -> None:
    probs = form()
    probs["gub_suara_tidak_sah"] = np.stack([sure("8"), sure("X"), sure("X")])
    f = judge(T, probs, S).fields["gub_suara_tidak_sah"]
    assert f.value is None and f.status == "review" and "8XX" in f.reasons[0]


def test_empty_field() -> None:
    probs = form()
    probs["wako_paslon_3"] = np.stack([sure("")] * 3)
    v = judge(T, probs, S)
    assert v.fields["wako_paslon_3"].export()["value"] is None
    assert "kosong" in v.fields["wako_paslon_3"].reasons
    assert v.fields["wako_suara_sah"].status == "review" and v.status == "review"


def test_standalone_field_needs_high_own_confidence() -> None:
    # without R4, gub_pemilih is in no equality check: nothing else vouches for it
    alone = T.model_copy(
        update={"checks": [c for c in T.checks if c.expr != "gub_total_suara == gub_pemilih"]}
    )
    probs = form()
    probs["gub_pemilih"][1] = sure("0", 0.9995)
    v = judge(alone, probs, S)
    assert v.fields["gub_pemilih"].status == "review" and v.status == "review"
    assert v.fields["gub_paslon_1"].status == "ok"
    probs["gub_pemilih"][1] = sure("0", 0.99995)  # its own boxes reach 1 - trust_risk
    v = judge(alone, probs, S)
    assert v.fields["gub_pemilih"].status == "ok" and not v.fields["gub_pemilih"].corrected


def test_r7_break_marks_the_field() -> None:
    v = judge(T, form(gub_pemilih=620, gub_total_suara=620, gub_suara_sah=605, gub_paslon_1=440), S)
    assert v.fields["gub_pemilih"].status == "review" and v.status == "review"
    assert "R7: jumlah pemilih melebihi 600 pemilih per TPS + 2,5%" in v.reasons
    assert v.fields["wako_pemilih"].status == "ok"


def test_ticks_vouch_for_each_other() -> None:
    """Each tick box alone at 0.997 is not enough; exactly-one-ticked makes the pair sure."""
    probs = form()
    probs["situasi_aman"] = sure("X", 0.997)[None]
    probs["situasi_insiden"] = sure("", 0.997)[None]
    v = judge(T, probs, S)
    assert v.fields["situasi_aman"].status == "ok" and v.fields["situasi_aman"].value == 1
    assert v.fields["situasi_insiden"].confidence > 0.9999
    probs["situasi_insiden"] = sure("", 0.6)[None]  # unsure whether the other is ticked too
    assert judge(T, probs, S).fields["situasi_aman"].status == "review"


@pytest.mark.parametrize(
    ("aman", "insiden", "ok"),
    [("X", "", True), ("", "7", True), ("X", "X", False), ("", "", False)],
)
def test_situation_ticks(aman: str, insiden: str, ok: bool) -> None:
    probs = form()
    probs["situasi_aman"], probs["situasi_insiden"] = sure(aman)[None], sure(insiden)[None]
    v = judge(T, probs, S)
    assert (v.status == "ok") is ok
    assert (v.fields["situasi_aman"].status == "ok") is ok


def test_missing_field_probabilities() -> None:
    probs = form()
    del probs["wako_pemilih"]
    v = judge(T, probs, S)
    assert v.fields["wako_pemilih"].status == "review" and v.status == "review"


def test_trust_settings_from_environment() -> None:
    from sipantau.ocr.settings import ReadSettings

    env = {"SIPANTAU_TRUST_RISK": "1e-6", "SIPANTAU_SLIP_PRIOR": "0.05"}
    s = ReadSettings.from_env(env).decision
    assert s.trust_risk == 1e-6 and s.slip_prior == 0.05
    assert ReadSettings.from_env({}).decision == DecisionSettings()
    with pytest.raises(ValueError, match="SIPANTAU_TRUST_RISK"):
        ReadSettings.from_env({"SIPANTAU_TRUST_RISK": "lots"})


def test_low_confidence_never_reads_as_certain() -> None:
    """A field just short of the trust floor says how sure it is without rounding up to 1."""
    probs = form()
    probs["gub_paslon_1"] = np.stack([sure(c, 0.99) for c in "120"])
    f = judge(T, probs, S.model_copy(update={"trust_risk": 1e-7})).fields["gub_paslon_1"]
    assert f.status == "review" and 0.9995 < f.confidence < 1 - 1e-7  # 3 places print 1.000
    low = [r for r in f.reasons if r.startswith("keyakinan rendah")]
    assert low and "1.000" not in low[0]
    shown = float(low[0].split("(")[1].rstrip(")"))
    assert shown <= f.confidence < shown + 1e-5
