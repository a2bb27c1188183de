"""Live re-checks, arrivals over time, KPU's official result and the gap, situation reports:
through real HTTP against `sipantau serve --demo`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from tests.service import LiveService

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TRUTH = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))["photos"]


@pytest.fixture(scope="module")
def live(service_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    with LiveService(
        tmp_path_factory.mktemp("reports"), service_db_url, workers=1, demo=True
    ) as svc:
        yield svc


@pytest.fixture(scope="module")
def read_samples(live: LiveService) -> list[dict[str, Any]]:
    """Every demo sample, once the workers have read it."""
    admin = live.login_demo("admin")
    deadline = time.monotonic() + 120
    while True:
        items = admin.get("/submissions?limit=50").json()["items"]
        if all(i["status"] not in ("queued", "reading") for i in items) and len(items) == len(
            TRUTH
        ):
            return [admin.get(f"/submissions/{i['id']}").json() for i in items]
        assert time.monotonic() < deadline, items
        time.sleep(1)


def test_check_rechecks_typed_values_and_saves_nothing(live: LiveService, read_samples):
    rev = live.login_demo("reviewer1")
    kwk = next(s for s in read_samples if s["race"] == "walikota")
    truth = next(t for t in TRUTH if t["tps"] == kwk["tps"])["fields"]
    tps_dpt = next(t["dpt"] for t in live.login_demo(f"tps-{kwk['tps']}").get("/me").json()["tps"])
    # the sample's sheet carries another DPT than the demo TPS: only that rule fails
    ok = rev.post(f"/submissions/{kwk['id']}/check", json={"values": truth}).json()
    assert ok["reasons"] == [
        f"DPT pada formulir ({truth['dpt_jml']}) berbeda dengan data DPT TPS ini ({tps_dpt})"
    ]
    assert ok["fields"]["dpt_jml"]["status"] == "review"
    assert ok["fields"]["dpt_jml"]["rules"] == ["DPT"]
    assert ok["fields"]["paslon_1"] == {"status": "ok", "reasons": [], "rules": []}

    bad = truth | {"paslon_1": truth["paslon_1"] + 1}
    out = rev.post(f"/submissions/{kwk['id']}/check", json={"values": bad}).json()
    assert out["ok"] is False
    assert out["fields"]["paslon_1"]["status"] == "review"
    assert any(r.startswith("R") for r in out["fields"]["paslon_1"]["reasons"])
    assert out["fields"]["paslon_1"]["rules"] and all(
        r.startswith("R") for r in out["fields"]["paslon_1"]["rules"]
    )
    assert out["fields"]["dpt_l"] == {"status": "ok", "reasons": [], "rules": []}

    before = rev.get(f"/submissions/{kwk['id']}/history").json()["values"]
    assert len(before) == 1  # nothing saved by either check
    assert (
        rev.post(f"/submissions/{kwk['id']}/check", json={"values": {"nope": 1}}).status_code == 422
    )
    assert (
        rev.post(f"/submissions/{kwk['id']}/check", json={"values": {"paslon_1": 1000}}).status_code
        == 422
    )
    leader = live.login_demo("pimpinan")
    assert leader.post(f"/submissions/{kwk['id']}/check", json={"values": {}}).status_code == 403


def test_timeline_counts_first_photos_and_verified_forms(live: LiveService, read_samples):
    leader = live.login_demo("pimpinan")
    for race in ("walikota", "gubernur"):
        items = leader.get(f"/results/timeline?race={race}&bucket_min=5").json()["items"]
        cov = leader.get(f"/coverage?race={race}").json()["total"]
        assert sum(i["received"] for i in items) == cov["received"]
        verified = [s for s in read_samples if s["race"] in (race, "semua")]
        verified = [s for s in verified if s["status"] == "verified"]
        assert sum(i["verified"] for i in items) == len(verified)
        assert [i["at"] for i in items] == sorted(i["at"] for i in items)
    assert leader.get("/results/timeline?race=bupati").status_code == 422
    assert leader.get("/results/timeline?race=walikota&bucket_min=0").status_code == 422


def _csv(rows: list[list[Any]], header: str = "tps,paslon_1,paslon_2,paslon_3") -> bytes:
    return (header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n").encode()


def test_official_result_import_and_gap(live: LiveService, read_samples):
    admin = live.login_demo("admin")
    leader = live.login_demo("pimpinan")
    states = admin.get("/results?race=walikota&level=tps").json()["rows"]
    ours = next(r for r in states if r["tps_verified"] == 1)
    other = next(r for r in states if r["tps_verified"] == 0)
    official = [v + d for v, d in zip(ours["votes"], (2, 0, -1), strict=True)]
    files = {"file": ("kpu.csv", _csv([[ours["code"], *official], [other["code"], 10, 20, 30]]))}
    r = admin.post("/admin/official-results?race=walikota", files=files)
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 2

    gap = leader.get("/results/gap?race=walikota").json()
    rows = {row["tps"]: row for row in gap["rows"]}
    assert rows[ours["code"]]["diff"] == [-2, 0, 1]
    assert rows[other["code"]]["quick"] is None and rows[other["code"]]["diff"] is None
    assert gap["total"]["tps_compared"] == 1 and gap["total"]["diff"] == [-2, 0, 1]
    assert gap["imported_at"]

    broken = _csv([[ours["code"], 1, 2, "x"], ["9999", 1, 2, 3], [ours["code"], 1, 2, 3]])
    r = admin.post("/admin/official-results?race=walikota", files={"file": ("k.csv", broken)})
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert "baris 2" in message and "baris 3" in message and "baris 4" in message
    assert leader.get("/results/gap?race=walikota").json()["rows"] == gap["rows"]  # unchanged
    missing_col = _csv([[ours["code"], 1, 2]], header="tps,paslon_1,paslon_2")
    r = admin.post("/admin/official-results?race=walikota", files={"file": ("k.csv", missing_col)})
    assert r.status_code == 422 and "paslon_3" in r.json()["error"]["message"]
    r = leader.post("/admin/official-results?race=walikota", files=files)
    assert r.status_code == 403


def test_incidents_from_monitors_and_from_blanko_ticks(live: LiveService, read_samples):
    blanko = next(s for s in read_samples if s["race"] == "semua")
    tps = blanko["tps"]
    mon = live.login_demo(f"tps-{tps}")
    r = mon.post("/incidents", json={"tps": tps, "kind": "intimidasi", "note": "saksi diusir"})
    assert r.status_code == 201, r.text
    other = next(s["tps"] for s in read_samples if s["tps"] != tps)
    assert mon.post("/incidents", json={"tps": other, "kind": "kericuhan"}).status_code == 403
    assert mon.post("/incidents", json={"tps": tps, "kind": "gempa"}).status_code == 422
    leader = live.login_demo("pimpinan")
    assert leader.post("/incidents", json={"tps": tps, "kind": "kericuhan"}).status_code == 403
    assert mon.get("/incidents").status_code == 403

    rev = live.login_demo("reviewer1")
    fixed = rev.post(
        f"/submissions/{blanko['id']}/corrections",
        json={"values": {"situasi_aman": 0, "situasi_insiden": 1}, "reason": "dicentang di foto"},
    )
    assert fixed.status_code == 200, fixed.text
    items = leader.get(f"/incidents?tps={tps}").json()["items"]
    assert [(i["source"], i["kind"]) for i in items] == [
        ("pemantau", "intimidasi"),  # reported after the photo was uploaded
        ("blanko", "lainnya"),
    ]
    assert items[0]["note"] == "saksi diusir" and items[0]["by"] == f"tps-{tps}"
    assert items[1]["submission_id"] == blanko["id"]
    kec = leader.get("/coverage?race=walikota&level=kecamatan").json()["rows"]
    here = next(i["kecamatan"] for i in items)
    code = next(k["code"] for k in kec if k["name"] == here)
    elsewhere = next(k["code"] for k in kec if k["name"] != here)
    assert {i["tps"] for i in leader.get(f"/incidents?kecamatan={code}").json()["items"]} == {tps}
    assert leader.get(f"/incidents?kecamatan={elsewhere}").json()["items"] == []


def _fmt(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %".replace(".", ",")


def test_report_pdf_says_what_the_api_says(live: LiveService, read_samples):
    """The "Laporan Hitung Cepat" over HTTP, read back as text: totals and shares per race and
    kecamatan, coverage, the KPU gap (imported above), incidents, the time (WIB) and its author."""
    from pypdf import PdfReader

    leader = live.login_demo("pimpinan")
    r = leader.get("/results/report.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith('attachment; filename="laporan-hitung')
    assert r.content.startswith(b"%PDF")
    for who in ("reviewer1", f"tps-{read_samples[0]['tps']}"):
        assert live.login_demo(who).get("/results/report.pdf").status_code == 403
    reader = PdfReader(BytesIO(r.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    lines = [line.strip() for line in text.splitlines()]
    me = leader.get("/me").json()
    election = leader.get("/election").json()
    assert "Laporan Hitung Cepat" in lines and election["name"] in text
    assert f"Disusun oleh {me['name'] or me['username']} (akun pimpinan)" in " ".join(lines)
    assert re.search(r"Data per \d\d-\d\d-\d{4} \d\d:\d\d WIB", text), text[:400]
    sections = text.split("Selisih dengan hasil resmi KPU")
    assert len(sections) == len(election["races"]) + 1
    for race in election["races"]:
        res = leader.get(f"/results?race={race['id']}&level=kecamatan").json()
        cov = leader.get(f"/coverage?race={race['id']}").json()["total"]
        assert race["name"] in lines
        part = text[text.index(race["name"]) :]
        assert f"{_fmt(cov['verified'])} dari {_fmt(cov['tps_total'])} TPS terverifikasi" in part
        votes = res["total"]["votes"]
        assert sum(votes) > 0, "the samples verify some forms of each race"
        for name, v in zip(res["paslon"], votes, strict=True):
            assert f"{name}\n{_fmt(v)}\n{_pct(v, sum(votes))}" in part, (name, v, part[:800])
        for row in res["rows"]:
            assert row["name"] in part
            want = ["belum ada data"] * len(votes)
            if row["tps_verified"]:
                want = [f"{_fmt(v)} ({_pct(v, sum(row['votes']))})" for v in row["votes"]]
            assert "\n".join([row["name"], *want]) in part, (row, part[:1200])
    gap = leader.get("/results/gap?race=walikota").json()["total"]
    assert f"Dibandingkan pada {gap['tps_compared']} TPS" in text
    assert "\n".join(["Paslon 1", *map(_fmt, (gap["official"][0], gap["quick"][0]))]) in text
    gubernur = sections[1].split(election["races"][1]["name"])[0]  # its gap: never imported
    assert "Hasil resmi KPU untuk pemilihan ini belum diimpor." in gubernur.replace("\n", " ")
    incidents = leader.get("/incidents").json()["items"]
    assert incidents and f"{len(incidents)} laporan kejadian." in text
    assert "saksi diusir" in text
