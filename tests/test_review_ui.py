"""The reviewer's screens (queue, review, history) with Streamlit's AppTest against a real
`sipantau serve --demo` (sample photos read by real workers, SQLite), plus their plain logic."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from sipantau.review_ui import clock, history_view
from sipantau.review_ui import review_logic as logic
from sipantau.review_ui.figures import FigureError, draw_boxes
from sipantau.review_ui.keys import focus_script
from sipantau.review_ui.launch import api_url_for, ui_command
from sipantau.review_ui.nav import pages_for
from tests.conftest import _or_fail
from tests.service import LiveService

APP = str(Path(__file__).resolve().parents[1] / "review_ui" / "app.py")
TIMEOUT = 60


# blanko forms sent after the samples (seed, form, slip rate): the one the e2e test corrects
# (Wali Kota pemilih, 213, read as 215), and two with an officer's slip on paper, held for
# review whatever the reader reads
SENT = {
    "1673011001-001": (77, 5, 0.0),
    "1673011001-002": (78, 1, 1.0),
    "1673011001-003": (78, 2, 1.0),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    """The demo service with its sample photos, every photo read before the tests start, then
    the blanko forms of `SENT`, each read as it is sent."""
    tmp = tmp_path_factory.mktemp("review_ui")
    svc = LiveService(tmp, f"sqlite:///{tmp / 'sipantau.db'}", workers=2, demo=True)
    _or_fail(svc.start)
    admin = svc.login_demo("admin")
    deadline = time.monotonic() + 120
    while True:
        items = admin.get("/submissions", params={"limit": 100}).json()["items"]
        if len(items) >= 7 and all(s["status"] not in ("queued", "reading") for s in items):
            break
        assert time.monotonic() < deadline, f"samples not read: {items}\n{svc.log_tail()}"
        time.sleep(0.5)
    for tps, (seed, index, slip) in SENT.items():
        sub, _ = svc.submit_blanko(tmp, tps, seed, index, slip)
        assert sub["status"] == "review", sub
    yield svc
    svc.stop()


def _app(svc: LiveService, username: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app logged in as `username` through the login page."""
    monkeypatch.setenv("SIPANTAU_API_URL", svc.api)
    st.cache_resource.clear()  # the cached httpx client must point at this service
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(svc.demo_password(username))
    at.button[0].click().run()
    assert at.session_state["user"]["username"] == username, [e.value for e in at.error]
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error]
    parts += [s.value for s in at.success] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def _button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def _approve_until(at: AppTest, wanted: Any, what: str) -> int:
    """The held form, or the first after it for which `wanted(id)` holds: the forms before it
    are approved on the way (as written, with a reason, where a rule is still broken)."""
    for _ in range(8):
        sub_id = int(at.session_state["claimed_id"])
        if wanted(sub_id):
            return sub_id
        if any("Aturan yang masih dilanggar" in e.value for e in at.error):
            at.checkbox(key="accept_problems").check().run()
            at.text_input(key="accept_reason").input("uji: kertasnya memang begitu").run()
        _button(at, "Setujui").click().run()
        assert not at.exception, at.exception
        assert int(at.session_state["claimed_id"]) != sub_id, _texts(at)
    raise AssertionError(f"no form in the queue {what}")


def _review_waiting(svc: LiveService) -> list[dict[str, Any]]:
    return svc.login_demo("admin").get("/review/queue").json()["items"]


# --- plain logic ---


def test_parse_value_accepts_0_to_999_and_explains_the_rest() -> None:
    assert logic.parse_value(" 109 ") == 109 and logic.parse_value("") is None
    for bad, why in (("1o9", "angka 0-999"), ("1000", "999"), ("-3", "angka 0-999")):
        with pytest.raises(logic.ValueInvalid) as exc:
            logic.parse_value(bad)
        assert why in exc.value.message and exc.value.code == "invalid_value"
    values, errors = logic.typed_values({"a": "12", "b": "x", "c": ""})
    assert values == {"a": 12, "c": None} and list(errors) == ["b"]
    assert logic.changes({"a": 12, "c": 4}, {"a": 12, "c": None, "d": 7}) == {"d": 7}


def test_flagged_fields_put_likely_culprits_first_in_form_order() -> None:
    sub = {
        "fields": {
            "a": {"status": "review", "value": 5, "suggestion": None},
            "b": {"status": "ok", "value": 5, "suggestion": None},
            "c": {"status": "review", "value": 104, "suggestion": 109},
            "d": {"status": "review", "value": None, "suggestion": None},
            "e": {"status": "review", "value": 3, "suggestion": None},
        }
    }
    assert logic.flagged_fields(sub) == ["c", "d", "a", "e"]


def test_machine_corrections_are_listed_in_labels() -> None:
    sub = {
        "labels": {"a": "Suara sah", "b": "Suara Paslon 1"},
        "fields": {
            "a": {"status": "ok", "value": 120, "corrected": True, "read_value": 127},
            "b": {"status": "ok", "value": 5, "corrected": False, "read_value": None},
            "c": {"status": "ok", "value": 0, "corrected": True, "read_value": None},
        },
    }
    assert logic.machine_corrections(sub) == [
        "Suara sah: terbaca 127, menjadi 120",
        f"{logic.label_of(sub, 'c')}: terbaca (tidak terbaca), menjadi 0",
    ]
    assert logic.machine_corrections({"fields": {"b": sub["fields"]["b"]}}) == []
    assert logic.flagged_fields(sub) == []  # a correction that reached the trust floor is ok


def test_version_changes_say_who_changed_what_in_labels() -> None:
    rows = history_view.version_changes(
        [
            {"version": 1, "at": "2024-11-27T06:05:00+00:00", "by": "mesin", "source": "reader"}
            | {"values": {"x": 104, "y": 3}, "problems": ["R5: jumlah tidak sama (A + B = 7)"]},
            {"version": 2, "at": "2024-11-27T06:07:00Z", "by": "reviewer1", "source": "reviewer"}
            | {"values": {"x": 109, "y": 3}},
        ],
        {"x": "Jumlah suara sah", "y": "Suara tidak sah"},
    )
    assert rows[0]["perubahan"] == "bacaan pertama" and rows[0]["sumber"] == "mesin pembaca"
    assert rows[0]["aturan dilanggar"] == "jumlah tidak sama (A + B = 7)"  # no rule code
    assert rows[1]["perubahan"] == "Jumlah suara sah: 104 → 109" and rows[1]["oleh"] == "reviewer1"
    assert rows[1]["sumber"] == "pemeriksa posko" and rows[1]["waktu"] == "27-11-2024 13:07 WIB"


def test_events_in_words_never_as_stored_dicts() -> None:
    labels = {"wako_suara_sah": "Jumlah suara sah (wako)"}
    events = [
        {"at": "2024-11-27T06:00:00+00:00", "by": "tps-1", "kind": "uploaded"}
        | {"detail": {"bytes": 1_234_567, "format": "jpeg", "size": [3000, 4000]}},
        {"at": "2024-11-27T06:00:01+00:00", "by": "sistem", "kind": "read"}
        | {"detail": {"status": "review", "reader": "review", "ms": 850.0}},
        {"at": "2024-11-27T06:09:00+00:00", "by": "reviewer1", "kind": "corrected"}
        | {"detail": {"changed": {"wako_suara_sah": 109}, "before": {"wako_suara_sah": 108}}},
        {"at": "2024-11-27T06:09:30+00:00", "by": "reviewer1", "kind": "corrected"}
        | {"detail": {"changed": {"wako_suara_sah": 110}, "reason": "dibaca dari foto"}},
        {"at": "2024-11-27T06:10:00+00:00", "by": "reviewer1", "kind": "approved"}
        | {"detail": {"version": 2, "reason": ""}},
    ]
    rows = history_view.event_rows(events, labels)
    details = [r["rincian"] for r in rows]
    assert details[0] == "foto JPEG 1,2 MB, 3000 × 4000 piksel"
    assert details[1] == "hasil: perlu diperiksa (dibaca dalam 0,8 detik)"
    assert details[2] == "Jumlah suara sah (wako): 108 → 109"
    assert details[3] == "Jumlah suara sah (wako) menjadi 110; alasan: dibaca dari foto"
    assert details[4] == "versi 2"
    assert rows[0]["waktu"] == "27-11-2024 13:00 WIB"
    assert not any("{" in d or "wako_" in d for d in details), details


def test_one_clock_and_one_confidence_format() -> None:
    assert clock.wib_text("2024-11-27T00:30:00+00:00") == "27-11-2024 07:30 WIB"
    assert clock.wib_text("2024-11-27T00:30:00") == "27-11-2024 07:30 WIB"  # naive is UTC
    assert clock.wib_text(None) == "-"
    assert logic.fmt_confidence(0.873) == "87 %" and logic.fmt_confidence(None) == "-"
    assert logic.plain_reason("keyakinan rendah (0.620)") == "keyakinan rendah (62 %)"
    # sure but not certain: never shown as 100 %, the first digits that differ from it
    assert logic.fmt_confidence(0.99976) == "99,97 %" and logic.fmt_confidence(0.996) == "99,6 %"
    assert logic.plain_reason("keyakinan rendah (0.99976)") == "keyakinan rendah (99,97 %)"
    assert logic.plain_reason("R5: jumlah suara paslon") == "jumlah suara paslon"
    assert logic.label_of({"labels": {"a_b": "Suara sah"}}, "a_b") == "Suara sah"
    broken = (
        "R5: jumlah tidak sama (Suara Paslon 1 (gub) + Suara Paslon 2 (gub) = 9; Suara sah = 8)"
    )
    assert logic.rule_words(broken) == "jumlah tidak sama"  # beside a field: the words alone
    dpt = "DPT pada formulir (512) berbeda dengan data DPT TPS ini (400)"
    assert logic.rule_words(dpt) == dpt  # whole, never cut to "DPT pada for"


def test_focus_script_names_the_fields_in_order_and_the_first_focus() -> None:
    html = focus_script(['Suara "sah"', "B"], 'Suara "sah"', "7-0")
    assert '["Suara \\"sah\\"", "B"]' in html and "window.parent" in html and "7-0" in html
    assert focus_script(["A"], "A", "1-0") != focus_script(["A"], "A", "2-0")


def test_draw_boxes_marks_flagged_fields_and_refuses_junk() -> None:
    import cv2
    import numpy as np

    ok, page = cv2.imencode(".jpg", np.full((200, 300, 3), 255, np.uint8))
    fields = {"a": {"box": [10, 10, 50, 40]}, "b": {"box": [100, 100, 50, 40]}}
    out = cv2.imdecode(np.frombuffer(draw_boxes(page.tobytes(), fields, ["b"]), np.uint8), 1)
    assert out[100, 125, 2] > 150 and out[100, 125, 0] < 100  # red edge on the flagged box
    assert out[10, 35, 1] > out[10, 35, 2]  # green edge on the other
    with pytest.raises(FigureError):
        draw_boxes(b"not a jpeg", fields)


def test_ui_launch_points_the_app_at_the_api() -> None:
    assert api_url_for("0.0.0.0", 8000) == "http://127.0.0.1:8000/api/v1"
    cmd = ui_command("127.0.0.1", 8765)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("review_ui/app.py")
    assert cmd[cmd.index("--server.port") + 1] == "8765"


# --- the pages, against the live service (tests run in order: they share its queue) ---


def _take(at: AppTest) -> int:
    _button(at, "Ambil formulir berikutnya").click().run()
    assert not at.exception, at.exception
    return int(at.session_state["claimed_id"])


def test_queue_shows_counts_oldest_first_and_filters_by_race(live, monkeypatch) -> None:
    at = _app(live, "reviewer1", monkeypatch)
    assert at.title[0].value == "Antrean periksa"
    want = live.login_demo("reviewer1").get("/review/queue").json()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Menunggu": str(want["counts"]["waiting"]),
        "Sedang diperiksa": str(want["counts"]["in_review"]),
        "Selesai": str(want["counts"]["done"]),
    }
    table = at.dataframe[0].value
    assert list(table["#"]) == sorted(s["id"] for s in want["items"]) and len(table) >= 4
    received = {s["id"]: clock.wib_text(s["created_at"]) for s in want["items"]}
    assert list(table["diterima"]) == [received[i] for i in table["#"]]  # WIB, one format
    assert all(t.endswith(" WIB") for t in table["diterima"])
    at.selectbox(key="q_race").select("gubernur").run()
    table = at.dataframe[0].value
    races = {
        r["id"]: r["name"] for r in live.login_demo("reviewer1").get("/election").json()["races"]
    }
    assert set(table["pemilihan"]) <= {races["gubernur"], "Blanko (semua pemilihan)"}
    assert len(table) >= 2 and "walikota" not in " ".join(table["pemilihan"]).lower()


def test_two_reviewers_never_get_the_same_form(live, monkeypatch) -> None:
    first = _app(live, "reviewer1", monkeypatch)
    a = _take(first)
    assert first.title[0].value == "Periksa formulir"  # the review page opened on it
    assert a == min(s["id"] for s in _review_waiting(live))  # the oldest
    second = _app(live, "reviewer2", monkeypatch)
    b = _take(second)
    assert b != a
    second.session_state["claimed_id"] = a  # reviewer2 tries reviewer1's form anyway
    second.run()
    _button(second, "Setujui").click().run()
    assert any("sedang diperiksa petugas lain" in e.value for e in second.error)
    assert live.login_demo("admin").get(f"/submissions/{a}").json()["status"] == "review"


FIELD_ID = re.compile(r"\b(?:gub|wako|dpt|pengguna|suara|paslon)_[a-z0-9_]+")


def test_review_page_speaks_labels_not_ids_or_formulas(live, monkeypatch) -> None:
    at = _app(live, "reviewer1", monkeypatch)
    sub_id = _take(at)  # reviewer1's held form (the oldest), the same one the next test takes
    sub = live.login_demo("admin").get(f"/submissions/{sub_id}").json()  # real HTTP
    labels = sub["labels"]
    assert labels and all(labels[n] for n in sub["fields"]), "labels come with the submission"
    assert not any("==" in r for r in sub["reasons"]), sub["reasons"]
    shown = _texts(at)
    assert "==" not in shown and not FIELD_ID.search(shown), shown
    checked = live.login_demo("admin").post(f"/submissions/{sub_id}/check", json={"values": {}})
    culprit = logic.flagged_fields(sub, checked.json())[0]  # as the page orders them
    assert f"1. {labels[culprit]}" in shown  # numbered as on the drawn page
    confidence = logic.fmt_confidence(sub["fields"][culprit]["confidence"])
    assert f"keyakinan {confidence}" in shown
    assert not re.search(r"keyakinan \S*0\.\d", shown), "one confidence format: percent"
    assert "wib" in at.caption[0].value.lower() and sub["created_at"][:16] not in shown
    assert at.text_input(key=f"val_{sub_id}_{culprit}").label == labels[culprit]


def test_leadership_lands_on_the_dashboard(live, monkeypatch) -> None:
    at = _app(live, "pimpinan", monkeypatch)
    assert not at.exception, at.exception
    assert at.title[0].value == "Dasbor hasil hitung cepat"
    assert pages_for("leadership")[0].title == "Dasbor hasil"
    assert pages_for("reviewer")[0].title == "Antrean periksa"


def test_review_rechecks_live_then_corrects_and_approves(live, monkeypatch) -> None:
    at = _app(live, "reviewer2", monkeypatch)
    _take(at)  # reviewer2 still holds the second oldest (two reviewers, above)

    def suggested(sub_id: int) -> bool:
        sub = live.login_demo("admin").get(f"/submissions/{sub_id}").json()
        first = sub["fields"][logic.flagged_fields(sub)[0]]
        return sub["template"] == "sipantau-blanko" and first["suggestion"] is not None

    sub_id = _approve_until(at, suggested, "has a suggested value")
    sub = live.login_demo("admin").get(f"/submissions/{sub_id}").json()
    assert sub["template"] == "sipantau-blanko"
    culprit = logic.flagged_fields(sub)[0]
    box = at.text_input(key=f"val_{sub_id}_{culprit}")
    assert at.text_input[0].key == box.key  # the culprit comes first (it gets the focus)
    box.input("1x").run()
    assert "angka 0-999" in _texts(at)
    box.input(str(sub["fields"][culprit]["value"] + 1)).run()
    assert any("Aturan yang masih dilanggar" in e.value for e in at.error)
    truth = sub["fields"][culprit]["suggestion"]
    box.input(str(truth)).run()
    assert any("Semua aturan terpenuhi" in s.value for s in at.success)
    _button(at, "Setujui").click().run()
    assert not at.exception, at.exception
    assert any(f"Formulir #{sub_id}" in s.value for s in at.success)
    assert at.session_state["claimed_id"] != sub_id  # the next form was taken at once
    done = live.login_demo("admin").get(f"/submissions/{sub_id}").json()
    assert done["status"] == "verified" and done["values"][culprit] == truth
    assert done["version"] == 2


def test_approving_a_broken_form_needs_the_paper_reason(live, monkeypatch) -> None:
    at = _app(live, "reviewer2", monkeypatch)
    _take(at)

    def broken(_: int) -> bool:
        return any("Aturan yang masih dilanggar" in e.value for e in at.error)

    sub_id = _approve_until(at, broken, "breaks a rule")
    _button(at, "Setujui").click().run()
    assert any("aturan yang dilanggar" in e.value for e in at.error), _texts(at)
    admin = live.login_demo("admin")
    assert admin.get(f"/submissions/{sub_id}").json()["status"] == "review"
    at.checkbox(key="accept_problems").check().run()
    at.text_input(key="accept_reason").input("DPT di kertas memang ditulis lain").run()
    _button(at, "Setujui").click().run()
    assert admin.get(f"/submissions/{sub_id}").json()["status"] == "verified"
    events = admin.get(f"/submissions/{sub_id}/history").json()["events"]
    assert events[-1]["kind"] == "approved" and "DPT di kertas" in events[-1]["detail"]["reason"]


def test_send_back_needs_a_reason_for_the_monitor(live, monkeypatch) -> None:
    at = _app(live, "reviewer2", monkeypatch)
    sub_id = _take(at)
    _button(at, "Kembalikan ke pemantau").click().run()
    assert any("tulis alasan" in e.value for e in at.error)
    at.text_input(key=f"back_{sub_id}").input("foto terpotong, ulangi")  # in the form: no run
    _button(at, "Kembalikan ke pemantau").click().run()
    sent = live.login_demo("admin").get(f"/submissions/{sub_id}").json()
    assert sent["status"] == "sent_back" and "foto terpotong" in sent["message"]


def test_history_shows_every_version_and_event(live, monkeypatch) -> None:
    verified = [
        s for s in live.login_demo("admin").get("/submissions").json()["items"] if s["version"] > 1
    ]
    assert verified, "the review test above corrected a form"
    sub_id = verified[0]["id"]
    at = _app(live, "pimpinan", monkeypatch)
    at.switch_page("app_pages/history.py").run()
    at.number_input[0].set_value(sub_id).run()
    assert not at.exception, at.exception
    versions, events = at.dataframe[0].value, at.dataframe[1].value
    assert list(versions["versi"]) == [1, 2]
    assert list(versions["oleh"]) == ["mesin", "reviewer2"]
    assert "→" in versions["perubahan"].iloc[1]
    assert {"foto diunggah", "dikoreksi", "disetujui"} <= set(events["kejadian"])
    labels = live.login_demo("admin").get(f"/submissions/{sub_id}").json()["labels"]
    changed = versions["perubahan"].iloc[1]
    assert any(changed.startswith(f"{label}: ") for label in labels.values()), changed
    assert list(versions["sumber"]) == ["mesin pembaca", "pemeriksa posko"]
    fix = events[events["kejadian"] == "dikoreksi"]["rincian"].iloc[0]
    assert fix.split(";")[0] == changed.split(";")[0], (fix, changed)  # "Label: 104 → 109"
    details = " ".join(events["rincian"])
    assert "{" not in details and not FIELD_ID.search(details + changed), details
    assert all(t.endswith(" WIB") for t in [*versions["waktu"], *events["waktu"]])
