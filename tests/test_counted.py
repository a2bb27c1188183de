"""What stays counted, and what the monitor is told, over real HTTP (`sipantau serve --demo`
with its sample photos, on SQLite and PostgreSQL): a flagged later photo never displaces a
verified form, a monitor can withdraw an upload, another TPS's photo bytes flag only the
newcomer, and a refused photo says what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.service import LiveService
from tests.test_api import counted, free_tps, reencode, settle, upload

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TRUTH = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))["photos"]


def samples_of(template: str) -> list[dict[str, Any]]:
    return [i for i in TRUTH if i["template"] == template]


@pytest.fixture(scope="module")
def live(service_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("counted")
    with LiveService(tmp, service_db_url, workers=2, demo=True) as svc:
        yield svc


def login(live: LiveService, name: str) -> httpx.Client:
    return live.login_demo(name)


def the_sample(admin: httpx.Client, item: dict[str, Any], race: str) -> dict[str, Any]:
    """The demo's own submission of a sample photo, once read."""
    items = admin.get("/submissions", params={"tps": item["tps"], "race": race}).json()["items"]
    return settle(admin, min(i["id"] for i in items))


def verified(live: LiveService, admin: httpx.Client, item: dict[str, Any], race: str) -> dict:
    """The sample's submission, approved by a reviewer if the reader left it for review."""
    sub = the_sample(admin, item, race)
    if sub["status"] != "verified":
        assert sub["status"] == "review", sub
        r = login(live, "reviewer2").post(
            f"/submissions/{sub['id']}/approve",
            json={"reason": "sesuai foto", "accept_problems": True},
        )
        assert r.status_code == 200, r.text
        sub = r.json()
    assert sub["status"] == "verified"
    return sub


def test_a_flagged_later_photo_never_displaces_a_verified_form(live: LiveService) -> None:
    admin = login(live, "admin")
    mine, other = samples_of("c-hasil-kwk-walikota")[:2]
    tps = mine["tps"]
    old = verified(live, admin, mine, "walikota")
    before = admin.get("/results?race=walikota").json()["total"]
    mon = login(live, f"tps-{tps}")
    foreign = (SAMPLES / other["photo"]).read_bytes()  # its QR names TPS `other["tps"]`

    wrong = upload(mon, tps, "walikota", reencode(foreign, 0.6))
    assert wrong.status_code == 201, wrong.text
    wrong = settle(mon, wrong.json()["id"])
    assert wrong["status"] == "review", wrong
    assert "qr_mismatch" in wrong["reason_codes"]
    assert admin.get(f"/submissions/{old['id']}").json()["status"] == "verified"
    during = admin.get("/results?race=walikota").json()["total"]
    assert counted(during) == counted(before)  # the TPS still counts with its verified form

    rev = login(live, "reviewer1")
    assert rev.post(f"/submissions/{wrong['id']}/send-back", json={"reason": "TPS lain"}).is_success
    assert counted(admin.get("/results?race=walikota").json()["total"]) == counted(before)

    # the monitor withdraws a wrong upload of theirs: it leaves the queue, history keeps it
    third = settle(mon, upload(mon, tps, "walikota", reencode(foreign, 0.55)).json()["id"])
    assert third["status"] == "review"
    assert (
        login(live, f"tps-{other['tps']}").post(f"/submissions/{third['id']}/withdraw").status_code
        == 404
    )
    assert admin.post(f"/submissions/{third['id']}/withdraw").status_code == 403  # not theirs
    out = mon.post(f"/submissions/{third['id']}/withdraw", json={"reason": "foto TPS lain"})
    assert out.status_code == 200, out.text
    assert out.json()["status"] == "withdrawn" and out.json()["message"]
    assert mon.post(f"/submissions/{third['id']}/withdraw").status_code == 409
    hist = admin.get(f"/submissions/{third['id']}/history").json()["events"]
    assert [e["kind"] for e in hist][-1] == "withdrawn"
    assert hist[-1]["by"] == f"tps-{tps}" and hist[-1]["detail"]["reason"] == "foto TPS lain"
    queue = rev.get("/review/queue").json()["items"]
    assert third["id"] not in {i["id"] for i in queue}
    assert counted(admin.get("/results?race=walikota").json()["total"]) == counted(before)

    # a reviewer decides: approving the later photo replaces the verified one
    fourth = settle(mon, upload(mon, tps, "walikota", reencode(foreign, 0.5)).json()["id"])
    ok = rev.post(
        f"/submissions/{fourth['id']}/approve",
        json={"reason": "diperiksa", "accept_problems": True},
    )
    assert ok.status_code == 200, ok.text
    assert admin.get(f"/submissions/{old['id']}").json()["status"] == "superseded"

    # ...and withdrawing that one makes the form it replaced count again
    assert mon.post(f"/submissions/{fourth['id']}/withdraw").status_code == 200
    assert admin.get(f"/submissions/{old['id']}").json()["status"] == "verified"
    assert counted(admin.get("/results?race=walikota").json()["total"]) == counted(before)


def test_another_tps_photo_bytes_flag_only_the_newcomer(live: LiveService) -> None:
    admin = login(live, "admin")
    item = samples_of("c-hasil-kwk-gubernur")[0]
    theirs = verified(live, admin, item, "gubernur")
    before = admin.get("/results?race=gubernur").json()["total"]
    tps = free_tps(admin, "gubernur", {item["tps"]})[0]
    mon = login(live, f"tps-{tps}")

    r = upload(mon, tps, "gubernur", (SAMPLES / item["photo"]).read_bytes())
    assert r.status_code == 201, r.text
    copy = settle(mon, r.json()["id"])
    assert copy["status"] == "review"
    dup = [f for f in copy["flags"] if f["code"] == "duplicate_photo"]
    assert [f["submission"] for f in dup] == [theirs["id"]]  # the reviewer sees the pair
    assert item["tps"] in dup[0]["message"]

    again = admin.get(f"/submissions/{theirs['id']}").json()
    assert again["status"] == "verified" and again["flags"] == theirs["flags"]
    assert counted(admin.get("/results?race=gubernur").json()["total"]) == counted(before)
    events = admin.get(f"/submissions/{theirs['id']}/history").json()["events"]
    seen = [e["detail"] for e in events if e["kind"] == "duplicate_seen"]
    assert seen and seen[-1]["submission"] == copy["id"] and seen[-1]["tps"] == tps


def test_the_wrong_sheet_is_refused_in_the_upload_answer(live: LiveService) -> None:
    admin = login(live, "admin")
    item = samples_of("c-hasil-kwk-walikota")[1]
    mon = login(live, f"tps-{item['tps']}")
    data = reencode((SAMPLES / item["photo"]).read_bytes(), 0.7)
    for chosen in ("semua", "gubernur"):
        r = upload(mon, item["tps"], chosen, data, wait=20)
        assert r.status_code == 201, r.text
        view = r.json()
        assert view["status"] == "rejected", view  # at once, not to the review queue
        assert view["retake"] is True and "wrong_form" in view["reason_codes"]
        assert view["retake_race"] == "walikota"
        assert "pilih formulir" in view["message"] and "Walikota" in view["message"]
    queue = login(live, "reviewer1").get("/review/queue").json()["items"]
    assert not {i["id"] for i in queue} & {view["id"]}
    assert admin.get(f"/submissions/{view['id']}").json()["status"] == "rejected"


def test_a_blurred_blanko_is_refused_for_its_blur(live: LiveService) -> None:
    admin = login(live, "admin")
    tps = free_tps(admin, "walikota", set())[5]
    mon = login(live, f"tps-{tps}")
    for item in samples_of("sipantau-blanko")[:2]:
        img = cv2.imdecode(np.frombuffer((SAMPLES / item["photo"]).read_bytes(), np.uint8), 1)
        f = 2000 / max(img.shape[:2])  # as the phone page sends it
        img = cv2.GaussianBlur(
            cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA), (0, 0), 6
        )
        r = upload(mon, tps, "semua", cv2.imencode(".jpg", img)[1].tobytes())
        view = settle(mon, r.json()["id"])
        assert view["status"] == "rejected", view
        assert view["reason_codes"] == ["blurry"], view
        assert "buram" in view["message"] and "pilih formulir" not in view["message"]


def test_a_truncated_jpeg_is_refused_with_its_own_reason(live: LiveService) -> None:
    mon = login(live, f"tps-{samples_of('sipantau-blanko')[0]['tps']}")
    data = (SAMPLES / TRUTH[0]["photo"]).read_bytes()
    r = upload(mon, TRUTH[0]["tps"], "semua", data[: len(data) // 2])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "truncated"
    assert "terpotong" in r.json()["error"]["message"]
