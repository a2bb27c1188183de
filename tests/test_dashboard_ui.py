"""Leadership screens (dashboard, gap with KPU, situation reports): their logic, and each page
run with Streamlit's AppTest against the real service (`sipantau serve --demo`, sample photos
read by a real worker). What the pages show is checked against the API's own answers.

One database (SQLite): the pages talk HTTP only, so the backend is the API's concern
(tests/test_api.py runs it on both).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from sipantau.review_ui import gap_view, incident_view, session, tally_view
from tests.service import LiveService

PAGES = Path(__file__).resolve().parents[1] / "review_ui" / "app_pages"
RACE = "gubernur"


# --- plain logic -------------------------------------------------------------------------


def test_indonesian_numbers() -> None:
    assert tally_view.fmt_int(12345) == "12.345"
    assert tally_view.fmt_int(1234567) == "1.234.567"
    assert tally_view.fmt_int(7) == "7"
    assert tally_view.fmt_int(None) == "-"
    assert tally_view.fmt_signed(-1234) == "-1.234"
    assert tally_view.fmt_signed(5) == "+5"
    assert tally_view.fmt_signed(0) == "0"
    assert tally_view.fmt_pct(45.61) == "45,6 %"
    assert tally_view.fmt_pct(None) == "-"


def test_shares_only_of_counted_votes() -> None:
    assert tally_view.shares([1, 3]) == [25.0, 75.0]
    assert tally_view.shares([0, 0]) == [None, None]
    frame = tally_view.paslon_frame(["A", "B"], [1, 3])
    assert frame["Persen"].tolist() == [25.0, 75.0]
    assert frame["Suara"].tolist() == [1, 3]


def test_coverage_progress() -> None:
    c = tally_view.Coverage.of(
        {"tps_total": 328, "received": 10, "verified": 82, "in_review": 3, "retake": 1}
    )
    assert c.missing == 0 and c.verified_share == pytest.approx(0.25)
    assert c.progress_text() == "82 dari 328 TPS terverifikasi (25,0 %)"
    assert tally_view.Coverage.of({"tps_total": 0}).verified_share == 0.0


def test_timeline_is_cumulative_in_wib() -> None:
    items = [
        {"at": "2024-11-27T07:15:00+00:00", "received": 2, "verified": 1},
        {"at": "2024-11-27T06:00:00+00:00", "received": 3, "verified": 0},
    ]
    frame = tally_view.timeline_frame(items)
    assert frame["Diterima"].tolist() == [0, 3, 5]
    assert frame["Terverifikasi"].tolist() == [0, 0, 1]
    assert [t.strftime("%H:%M") for t in frame.index] == ["12:45", "13:00", "14:15"]
    assert tally_view.timeline_frame([]).empty


def test_region_frame_joins_coverage() -> None:
    results = {
        "paslon": ["A", "B"],
        "rows": [
            {
                "code": "k1",
                "name": "Kec 1",
                "votes": [10, 20],
                "suara_sah": 30,
                "tps_total": 4,
                "tps_verified": 1,
                "tps_unverified": 2,
            }
        ],
    }
    results["rows"].append(
        {"code": "k2", "name": "Kec 2", "votes": [0, 0], "suara_sah": 0, "tps_total": 3}
        | {"tps_verified": 0, "tps_unverified": 1}
    )
    cov = {"rows": [{"code": "k1", "retake": 1, "missing": 0}, {"code": "k2", "missing": 2}]}
    frame = tally_view.region_frame(results, cov)
    row = frame.iloc[0].to_dict()
    assert row["A"] == 10 and row["B"] == 20 and row["Sedang diperiksa"] == 2
    assert row["Belum terverifikasi"] == 3  # every TPS not verified: 4 - 1
    assert row["Foto diulang"] == 1 and row["Belum masuk"] == 0
    empty = frame.iloc[1]
    assert pd.isna(empty["A"]) and pd.isna(empty["Suara sah"])  # not reported: no votes, not 0
    assert empty["Belum terverifikasi"] == 3
    shown = tally_view.shown_regions(frame, ["A", "B"])
    assert shown.iloc[0][["A", "B", "Suara sah"]].tolist() == ["10", "20", "30"]
    assert shown.iloc[1][["A", "B", "Suara sah"]].tolist() == [tally_view.NO_DATA] * 3


def test_gap_rows_states_and_highlight() -> None:
    body = {
        "paslon": ["A", "B"],
        "rows": [
            _gap_row("t1", [5, 5], [5, 5]),
            _gap_row("t2", [5, 5], [6, 5]),
            _gap_row("t3", [5, 5], None),
        ],
    }
    assert gap_view.count_states(body) == {"sama": 1, "berselisih": 1, "belum terverifikasi": 1}
    full = gap_view.gap_frame(body)
    assert full["Keadaan"].tolist() == ["sama", "berselisih", "belum terverifikasi"]
    assert full["A selisih"].tolist()[:2] == [0, 1] and pd.isna(full["A selisih"].iloc[2])
    only = gap_view.gap_frame(body, only_different=True)
    assert only["Kode"].tolist() == ["t2"]
    styles = gap_view.highlighted(full)._compute().ctx
    shaded = {r for (r, _c), props in styles.items() if props}
    assert shaded == {1}
    assert gap_view.csv_header(2) == "tps,paslon_1,paslon_2,suara_sah,suara_tidak_sah"


def test_incidents_newest_first_and_per_tps() -> None:
    items = [
        _incident("t1", "2024-11-27T03:00:00+00:00", "kericuhan"),
        _incident("t2", "2024-11-27T05:00:00+00:00", "lainnya"),
        _incident("t1", "2024-11-27T04:00:00+00:00", "politik_uang"),
    ]
    frame = incident_view.incident_frame(items)
    per = incident_view.per_tps_frame(items)
    assert frame["Waktu"].tolist() == [
        "27-11-2024 12:00 WIB",
        "27-11-2024 11:00 WIB",
        "27-11-2024 10:00 WIB",
    ]
    assert per["Terakhir"].tolist() == ["27-11-2024 11:00 WIB", "27-11-2024 12:00 WIB"]
    per = incident_view.per_tps_frame(items)
    assert per["Kode"].tolist() == ["t1", "t2"]
    assert per["Laporan"].tolist() == [2, 1]
    assert per["Jenis"].iloc[0] == "kericuhan, politik_uang"


def _gap_row(tps: str, official: list[int], quick: list[int] | None) -> dict[str, Any]:
    diff = None if quick is None else [q - o for q, o in zip(quick, official, strict=True)]
    place = {"tps": tps, "number": 1, "kelurahan": "Kel", "kecamatan": "Kec"}
    return place | {"official": official, "quick": quick, "diff": diff}


def _incident(tps: str, at: str, kind: str) -> dict[str, Any]:
    place = {"tps": tps, "number": 1, "kelurahan": "Kel", "kecamatan": "Kec", "at": at}
    return place | {"kind": kind, "label": kind, "note": "", "source": "pemantau", "by": "x"}


# --- the pages against the real service -------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    """`serve --demo` with the sample photos, every one read before the tests start, and a
    blanko with an officer's slip on paper (held for review whatever the reader reads)."""
    tmp = tmp_path_factory.mktemp("ui")
    svc = LiveService(tmp, f"sqlite:///{tmp / 'sipantau.db'}", workers=1, demo=True)
    try:
        svc.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    admin = svc.login_demo("admin")
    deadline = time.monotonic() + 120
    while True:
        items = admin.get("/submissions", params={"limit": 100}).json()["items"]
        if items and all(s["status"] not in ("queued", "reading") for s in items):
            break
        assert time.monotonic() < deadline, f"samples not read: {svc.log_tail()}"
        time.sleep(0.5)
    sub, _ = svc.submit_blanko(tmp, "1673011001-001", 78, 1, slip_rate=1.0)
    assert sub["status"] == "review", sub
    yield svc
    svc.stop()


@pytest.fixture(autouse=True)
def _api_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Point the UI's (process-wide cached) HTTP client at this module's service."""
    if "live" in request.fixturenames:
        svc = request.getfixturevalue("live")
        monkeypatch.setenv("SIPANTAU_API_URL", svc.api)
        session._http.clear()
    yield
    session._http.clear()


def _page(svc: LiveService, name: str, username: str) -> AppTest:
    """The page as `username` would see it, logged in through the API."""
    body = httpx.post(
        f"{svc.api}/auth/login",
        json={"username": username, "password": svc.demo_password(username)},
        timeout=30,
    ).json()
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    at.session_state["token"] = body["token"]
    at.session_state["user"] = body["user"]
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_dashboard_shows_the_verified_totals_of_the_api(live: LiveService) -> None:
    at = _page(live, "dashboard", "pimpinan")
    _ok(at)
    api = live.login_demo("pimpinan")
    res = api.get("/results", params={"race": RACE}).json()
    cov = api.get("/coverage", params={"race": RACE}).json()["total"]
    assert sum(res["total"]["votes"]) > 0, "the samples should verify some forms"
    shown = _metrics(at)
    for name, votes in zip(res["paslon"], res["total"]["votes"], strict=True):
        assert shown[name] == tally_view.fmt_int(votes)
    not_verified = res["total"]["tps_total"] - res["total"]["tps_verified"]
    assert shown["TPS belum terverifikasi"] == tally_view.fmt_int(not_verified)
    assert not_verified > res["unverified_tps"]  # the missing TPS count too, not only in review
    for label, key in (("Jumlah TPS", "tps_total"), ("Terverifikasi", "verified")):
        assert shown[label] == tally_view.fmt_int(cov[key])
    assert shown["Belum masuk"] == tally_view.fmt_int(cov["missing"])
    bar = at.get("progress")[0]
    assert bar.value == int(100 * cov["verified"] / cov["tps_total"])
    assert bar.text.startswith(f"{cov['verified']} dari {cov['tps_total']} TPS terverifikasi")
    missing = api.get("/coverage/missing", params={"race": RACE}).json()["items"]
    assert len(_table(at, "Keadaan")) == len(missing)
    downloads = [d.proto.label for d in at.get("download_button")]
    assert downloads == ["Unduh Laporan Hitung Cepat (PDF)", "Unduh CSV", "Unduh XLSX"]
    reviewer = _page(live, "dashboard", "reviewer1")
    assert [d.proto.label for d in reviewer.get("download_button")] == ["Unduh CSV", "Unduh XLSX"]

    at.selectbox(key="dash_race").set_value("walikota").run()
    _ok(at)
    wako = api.get("/results", params={"race": "walikota"}).json()
    for name, votes in zip(wako["paslon"], wako["total"]["votes"], strict=True):
        assert _metrics(at)[name] == tally_view.fmt_int(votes)


def test_dashboard_drills_down_to_tps(live: LiveService) -> None:
    api = live.login_demo("pimpinan")
    kecs = api.get("/results", params={"race": RACE, "level": "kecamatan"}).json()["rows"]
    kec = next(r for r in kecs if r["tps_verified"])
    at = _page(live, "dashboard", "pimpinan")
    assert _table(at, "Wilayah")["Kode"].tolist() == [r["code"] for r in kecs]
    at.selectbox(key=f"dash_kec_{RACE}").set_value(kec["code"]).run()
    _ok(at)
    kels = api.get(
        "/results", params={"race": RACE, "level": "kelurahan", "parent": kec["code"]}
    ).json()["rows"]
    assert _table(at, "Wilayah")["Kode"].tolist() == [r["code"] for r in kels]
    kel = next(r for r in kels if r["tps_verified"])
    at.selectbox(key=f"dash_kel_{RACE}_{kec['code']}").set_value(kel["code"]).run()
    _ok(at)
    tps = _table(at, "Wilayah")
    assert len(tps) == kel["tps_total"]
    assert sum(_votes(v) for v in tps["Paslon 1"] if v != tally_view.NO_DATA) == kel["votes"][0]
    assert tps["Terverifikasi"].sum() == kel["tps_verified"]
    silent = tps[tps["Terverifikasi"] == 0]
    assert len(silent) == kel["tps_total"] - kel["tps_verified"] > 0
    for col in ("Paslon 1", "Paslon 2", "Paslon 3", "Suara sah"):
        assert set(silent[col]) == {tally_view.NO_DATA}, silent  # never 0 votes


def test_dashboard_moves_by_exactly_the_approved_form(live: LiveService) -> None:
    """A blanko approved by a reviewer adds its governor block to the totals, nothing else."""
    reviewer = live.login_demo("reviewer1")
    queue = reviewer.get("/review/queue", params={"race": "semua"}).json()["items"]
    form = next(s for s in queue if s["race"] == "semua")
    at = _page(live, "dashboard", "pimpinan")
    before = _metrics(at)
    r = reviewer.post(
        f"/submissions/{form['id']}/approve",
        json={"reason": "uji: blok wali kota pada kertas memang tidak konsisten"}
        | {"accept_problems": True},
    )
    assert r.status_code == 200, r.text
    at.run()
    assert _metrics(at) == before, "a plain rerun within the refresh interval reuses its reads"
    at.button(key="dash_refresh").click().run()
    _ok(at)
    after = _metrics(at)
    for i in (1, 2, 3):
        added = form["values"][f"gub_paslon_{i}"]
        assert _votes(after[f"Paslon {i}"]) == _votes(before[f"Paslon {i}"]) + added
    assert _votes(after["Terverifikasi"]) == _votes(before["Terverifikasi"]) + 1
    assert _votes(after["TPS belum terverifikasi"]) == _votes(before["TPS belum terverifikasi"]) - 1


def _votes(shown: str) -> int:
    return int(shown.replace(".", ""))


def test_expired_login_asks_to_log_in_again(live: LiveService) -> None:
    at = AppTest.from_file(str(PAGES / "dashboard.py"), default_timeout=60)
    at.session_state["token"] = "bukan-token"
    at.session_state["user"] = {"username": "pimpinan", "role": "leadership", "name": ""}
    at.run()
    assert not at.exception
    assert any("Sesi berakhir" in w.value for w in at.warning)
    assert "token" not in at.session_state


def test_gap_after_the_admin_imports_kpu_figures(live: LiveService) -> None:
    api = live.login_demo("admin")
    rows = api.get("/results", params={"race": RACE, "level": "tps"}).json()["rows"]
    verified = [r for r in rows if r["tps_verified"]]
    other = next(r for r in rows if not r["tps_verified"] and not r["tps_unverified"])
    assert len(verified) >= 2
    lines = [gap_view.csv_header(3)]
    for i, r in enumerate(verified):
        votes = list(r["votes"])
        votes[0] -= 5 if i == 0 else 0  # KPU has 5 fewer for paslon 1 at one TPS
        lines.append(",".join(map(str, [r["code"], *votes, sum(votes), 0])))
    lines.append(f"{other['code']},1,2,3,6,0")

    at = _page(live, "gap", "admin")
    _ok(at)
    assert any("belum diimpor" in i.value for i in at.info)
    at.file_uploader[0].set_value(("kpu.csv", b"tps,paslon_1\nXX,1\n", "text/csv"))
    at.run().button(key=f"gap_import_{RACE}").click().run()
    assert any("baris 1" in e.value and "paslon_2" in e.value for e in at.error)

    csv = "\n".join(lines).encode()
    at.file_uploader[0].set_value(("kpu.csv", csv, "text/csv"))
    at.run().button(key=f"gap_import_{RACE}").click().run()
    _ok(at)
    assert any(f"{len(verified) + 1} TPS diimpor" in s.value for s in at.success)
    shown = _metrics(at)
    assert shown["Paslon 1: selisih"] == "+5"
    assert shown["Paslon 2: selisih"] == "0" and shown["Paslon 3: selisih"] == "0"
    assert shown["TPS berselisih"] == "1" and shown["TPS belum terverifikasi"] == "1"
    assert _table(at, "Keadaan")["Kode"].tolist() == [verified[0]["code"]]
    at.toggle(key=f"gap_only_{RACE}").set_value(False).run()
    assert len(_table(at, "Keadaan")) == len(verified) + 1

    lead = _page(live, "gap", "pimpinan")
    _ok(lead)
    assert not lead.file_uploader
    assert _metrics(lead)["Paslon 1: selisih"] == "+5"


def test_incident_added_by_a_reviewer_is_listed(live: LiveService) -> None:
    api = live.login_demo("admin")
    tps_rows = api.get("/coverage", params={"race": RACE, "level": "tps"}).json()["rows"]
    code = tps_rows[5]["code"]
    note = f"uji {time.time_ns()}: kotak suara dibuka sebelum waktunya"

    at = _page(live, "incidents", "reviewer1")
    _ok(at)
    at.selectbox(key="incident_tps").set_value(code)
    at.selectbox(key="incident_kind").set_value("kericuhan")
    at.text_area(key="incident_note").input(note)
    at.button[0].click().run()
    _ok(at)
    assert any("tersimpan" in s.value for s in at.success)
    listed = _table(at, "Catatan")
    assert note in listed["Catatan"].tolist()
    items = api.get("/incidents", params={"tps": code}).json()["items"]
    assert any(i["note"] == note and i["kind"] == "kericuhan" for i in items)
    kec = next(i for i in items if i["note"] == note)["kecamatan"]

    lead = _page(live, "incidents", "pimpinan")
    _ok(lead)
    assert "incident_tps" not in [s.key for s in lead.selectbox]
    assert note in _table(lead, "Catatan")["Catatan"].tolist()
    assert kec in lead.selectbox(key="incident_kec").options
    codes = {r["name"]: r["code"] for r in _kecamatan(api)}
    lead.selectbox(key="incident_kec").set_value(codes[kec]).run()
    assert note in _table(lead, "Catatan")["Catatan"].tolist()
    elsewhere = next(c for n, c in codes.items() if n != kec)
    lead.selectbox(key="incident_kec").set_value(elsewhere).run()
    _ok(lead)
    shown = [d.value for d in lead.dataframe if "Catatan" in d.value.columns]
    assert not shown or note not in shown[0]["Catatan"].tolist()


def _kecamatan(api: httpx.Client) -> list[dict[str, Any]]:
    return api.get("/coverage", params={"race": RACE, "level": "kecamatan"}).json()["rows"]
