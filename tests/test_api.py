"""The service through real HTTP (uvicorn, `sipantau serve --demo`), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import socket
import time
import zlib
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from openpyxl import load_workbook

from tests.service import LiveService

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TRUTH = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))["photos"]


def race_of(item: dict[str, Any]) -> str:
    t = item["template"]
    return "semua" if t == "sipantau-blanko" else t.rsplit("-", 1)[-1]


@pytest.fixture(scope="module")
def live(service_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    with LiveService(tmp_path_factory.mktemp("live"), service_db_url, workers=1, demo=True) as svc:
        yield svc


@pytest.fixture(scope="module")
def users(live: LiveService) -> dict[str, dict[str, Any]]:
    return {u["username"]: u for u in live.demo_credentials()["users"]}


def as_user(live: LiveService, users: dict[str, dict[str, Any]], name: str) -> httpx.Client:
    return live.login(name, users[name]["password"])


def monitor_of(live: LiveService, users, tps: str) -> httpx.Client:
    return as_user(live, users, f"tps-{tps}")


def upload(client: httpx.Client, tps: str, race: str, data: bytes, wait: float = 20, **extra):
    return client.post(
        f"/submissions?wait={wait}",
        data={"tps": tps, "race": race, **extra},
        files={"photo": ("foto.jpg", data, "image/jpeg")},
    )


def settle(client: httpx.Client, sub_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/submissions/{sub_id}?wait=10").json()
        if view["status"] not in ("queued", "reading") or time.monotonic() > deadline:
            return view


def reencode(data: bytes, scale: float = 0.5, quality: int = 80) -> bytes:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def free_tps(admin: httpx.Client, race: str, skip: set[str]) -> list[str]:
    items = admin.get(f"/coverage/missing?race={race}").json()["items"]
    return [i["tps"] for i in items if i["state"] == "missing" and i["tps"] not in skip]


def counted(total: dict[str, Any]) -> tuple[Any, ...]:
    return total["votes"], total["suara_sah"], total["suara_tidak_sah"], total["tps_verified"]


def test_demo_samples_are_read_and_only_verified_forms_count(live: LiveService, users) -> None:
    admin = as_user(live, users, "admin")
    items = admin.get("/submissions?limit=50").json()["items"]
    assert len(items) == len(TRUTH)  # serve --demo sent every sample photo once
    views = [settle(admin, i["id"]) for i in items]
    assert all(v["status"] in ("verified", "review") for v in views), views
    res = admin.get("/results?race=walikota").json()
    verified = [
        v for v in views if v["status"] == "verified" and v["race"] in ("walikota", "semua")
    ]
    assert res["total"]["tps_verified"] == len(verified)
    cov = admin.get("/coverage?race=walikota").json()["total"]
    assert cov["tps_total"] == 328
    assert cov["received"] == len({v["tps"] for v in views if v["race"] in ("walikota", "semua")})


def test_upload_resend_review_approve_changes_totals_by_that_form(live: LiveService, users):
    admin = as_user(live, users, "admin")
    item = next(i for i in TRUTH if i["template"] == "c-hasil-kwk-walikota")
    data = reencode((SAMPLES / item["photo"]).read_bytes(), 0.6)
    # the photo's QR names its own TPS; another TPS's monitor sending it is a mix-up
    tps = free_tps(admin, "walikota", {item["tps"]})[0]
    mon = monitor_of(live, users, tps)
    before = admin.get("/results?race=walikota").json()["total"]

    first = upload(mon, tps, "walikota", data)
    assert first.status_code == 201, first.text
    again = upload(mon, tps, "walikota", data, wait=0)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    view = settle(mon, first.json()["id"])
    assert view["status"] == "review"
    assert any(f["code"] == "qr_mismatch" for f in view["flags"])
    during = admin.get("/results?race=walikota").json()["total"]
    assert counted(during) == counted(before)  # not verified: totals unchanged
    assert during["tps_unverified"] == before["tps_unverified"] + 1  # shown apart

    rev = as_user(live, users, "reviewer1")
    claimed = rev.post("/review/claim", json={}).json()
    while claimed["id"] != view["id"]:  # older forms first: put them aside
        assert rev.post(
            f"/submissions/{claimed['id']}/send-back", json={"reason": "uji"}
        ).is_success
        claimed = rev.post("/review/claim", json={}).json()
    other = as_user(live, users, "reviewer2")
    held = other.post(f"/submissions/{view['id']}/approve", json={"reason": "x"})
    assert held.status_code == 409  # reviewer1 holds it
    truth = item["fields"]
    fixed = rev.post(
        f"/submissions/{view['id']}/corrections",
        json={"values": truth, "reason": "dibaca dari foto"},
    )
    assert fixed.status_code == 200, fixed.text
    reasons = fixed.json()["reasons"]  # the sums hold now; the QR flag stays
    assert not any(r.startswith(("R1", "R2", "R3", "R4", "R5", "R6")) for r in reasons), reasons
    assert any("QR" in r for r in reasons)
    ok = rev.post(
        f"/submissions/{view['id']}/approve",
        json={"reason": "QR TPS lain, tetapi angka sesuai foto", "accept_problems": True},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "verified"
    after = admin.get("/results?race=walikota").json()["total"]
    votes = [truth[f"paslon_{i}"] for i in (1, 2, 3)]
    assert after["votes"] == [b + v for b, v in zip(before["votes"], votes, strict=True)]
    assert after["tps_verified"] == before["tps_verified"] + 1
    hist = admin.get(f"/submissions/{view['id']}/history").json()
    assert [v["source"] for v in hist["values"]] == ["reader", "reviewer"]
    kinds = [e["kind"] for e in hist["events"]]
    assert kinds[0] == "uploaded" and "corrected" in kinds and kinds[-1] == "approved"

    # a new photo for the same TPS and race waits for review; the verified one still counts
    newer = upload(mon, tps, "walikota", reencode((SAMPLES / item["photo"]).read_bytes(), 0.55))
    assert newer.status_code == 201
    assert settle(mon, newer.json()["id"])["status"] == "review"
    old = admin.get(f"/submissions/{view['id']}").json()
    assert old["status"] == "verified" and old["values"] == fixed.json()["values"]
    final = admin.get("/results?race=walikota").json()["total"]
    assert final == after


def test_a_bad_photo_is_rejected_at_once_with_the_reason(live: LiveService, users) -> None:
    admin = as_user(live, users, "admin")
    tps = free_tps(admin, "gubernur", set())[1]
    mon = monitor_of(live, users, tps)
    blank = cv2.imencode(".jpg", np.full((1500, 2000, 3), 200, np.uint8))[1].tobytes()
    r = upload(mon, tps, "gubernur", blank)
    assert r.status_code == 201
    view = (
        r.json() if r.json()["status"] not in ("queued", "reading") else settle(mon, r.json()["id"])
    )
    assert view["status"] == "rejected" and view["retake"] is True
    assert view["message"].startswith("Foto ditolak: ") and len(view["message"]) > 20
    blurred = cv2.GaussianBlur(
        cv2.imdecode(np.frombuffer((SAMPLES / TRUTH[0]["photo"]).read_bytes(), np.uint8), 1),
        (0, 0),
        12,
    )
    r = upload(mon, tps, "gubernur", cv2.imencode(".jpg", blurred)[1].tobytes())
    view = settle(mon, r.json()["id"])
    assert view["status"] == "rejected" and view["reasons"]
    assert admin.get(f"/coverage?race=gubernur&level=tps&parent={tps[:10]}").json()


def test_the_same_photo_for_two_tps_is_flagged(live: LiveService, users) -> None:
    admin = as_user(live, users, "admin")
    a, b = free_tps(admin, "gubernur", set())[2:4]
    data = reencode((SAMPLES / TRUTH[1]["photo"]).read_bytes(), 0.5, 70)
    first = settle(admin, upload(monitor_of(live, users, a), a, "semua", data).json()["id"])
    second = settle(admin, upload(monitor_of(live, users, b), b, "semua", data).json()["id"])
    dup = [f for f in second["flags"] if f["code"] == "duplicate_photo"]
    assert [f["submission"] for f in dup] == [first["id"]]  # the newcomer, linked to the first
    assert second["status"] == "review"
    again = admin.get(f"/submissions/{first['id']}").json()
    assert not any(f["code"] == "duplicate_photo" for f in again["flags"])
    assert again["status"] == first["status"]  # the first one is not pulled out of the count


def test_roles_are_refused_where_they_do_not_belong(live: LiveService, users) -> None:
    anon = live.client()
    spec = anon.get("/openapi.json").json()
    open_paths = {"/api/v1/auth/login", "/api/v1/health", "/api/v1/ready", "/api/v1/openapi.json"}
    for path, methods in spec["paths"].items():
        if path in open_paths:
            continue
        concrete = path.replace("{sub_id}", "1").replace("{name}", "x").replace("{fmt}", "csv")
        concrete = concrete.replace("{username}", "admin").removeprefix("/api/v1")
        for method in methods:
            r = anon.request(method.upper(), concrete)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "unauthenticated"
    admin = as_user(live, users, "admin")
    tps_a, tps_b = free_tps(admin, "walikota", set())[4:6]
    mon = monitor_of(live, users, tps_a)
    lead = as_user(live, users, "pimpinan")
    rev = as_user(live, users, "reviewer2")
    data = reencode((SAMPLES / TRUTH[2]["photo"]).read_bytes(), 0.5, 75)
    assert mon.get("/results?race=walikota").status_code == 403
    assert mon.get("/coverage?race=walikota").status_code == 403
    assert mon.get("/exports/results.csv?race=walikota").status_code == 403
    assert mon.get("/review/queue").status_code == 403
    assert upload(mon, tps_b, "walikota", data, wait=0).status_code == 403  # not their TPS
    others = admin.get("/submissions?limit=5").json()["items"]
    assert mon.get(f"/submissions/{others[0]['id']}").status_code == 404
    assert lead.get("/results?race=walikota").status_code == 200
    assert upload(lead, tps_a, "walikota", data, wait=0).status_code == 403
    assert lead.post(f"/submissions/{others[0]['id']}/approve", json={}).status_code == 403
    assert lead.post("/admin/users", json={}).status_code == 403
    assert rev.get("/admin/users").status_code == 403
    assert mon.post("/auth/logout").status_code == 204
    assert mon.get("/me").status_code == 401  # the token is revoked
    # an admin may upload, but not approve their own upload
    own = settle(admin, upload(admin, tps_a, "walikota", data).json()["id"])
    if own["status"] != "review":
        admin.post(f"/submissions/{own['id']}/corrections", json={"values": {"paslon_1": 1}})
    r = admin.post(
        f"/submissions/{own['id']}/approve", json={"reason": "x", "accept_problems": True}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "own_submission"


def test_failed_logins_are_rate_limited(live: LiveService, users) -> None:
    anon = live.client()
    name = max(u for u in users if u.startswith("tps-"))  # an account no other test uses
    for _ in range(5):
        r = anon.post("/auth/login", json={"username": name, "password": "salah-sekali"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "login_failed"
    right = users[name]["password"]
    r = anon.post("/auth/login", json={"username": name, "password": right})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def _png_bomb(side: int = 30000) -> bytes:
    """A tiny PNG whose header claims side x side pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    rows = zlib.compress(b"\x00" * (side + 1) * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_hostile_requests_get_4xx_and_nothing_is_lost(live: LiveService, users) -> None:
    admin = as_user(live, users, "admin")
    before = admin.get("/submissions?limit=5000").json()["items"]
    tps = free_tps(admin, "walikota", set())[6]
    mon = monitor_of(live, users, tps)
    photo = (SAMPLES / TRUTH[0]["photo"]).read_bytes()
    cases = {
        "not an image": upload(mon, tps, "walikota", b"%PDF-1.4 bukan foto"),
        "empty": upload(mon, tps, "walikota", b""),
        "truncated": upload(mon, tps, "walikota", photo[: len(photo) // 2]),
        "bomb": upload(mon, tps, "walikota", _png_bomb()),
        "unknown race": upload(mon, tps, "presiden", photo, wait=0),
        "unknown tps": upload(mon, "../../etc/passwd", "walikota", photo, wait=0),
        "long field": upload(mon, "9" * 5000, "walikota", photo, wait=0),
        "wait not a number": mon.post("/submissions?wait=abc", data={"tps": tps}),
        "no photo": mon.post("/submissions", data={"tps": tps, "race": "walikota"}),
        "bad json": admin.post(
            "/review/claim", content=b"{not json", headers={"content-type": "application/json"}
        ),
        "wrong type": admin.post("/submissions/1/corrections", json={"values": {"x": "lima"}}),
        "id not a number": admin.get("/submissions/1%20OR%201=1"),
        "path trick": admin.get("/submissions/1/fields/..%2F..%2Fsipantau.db.png"),
    }
    for what, r in cases.items():
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:200])
        assert r.json()["error"]["code"], what
    head = (
        f"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: {10**9}\r\n"
        f"Authorization: {mon.headers['authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"--b\r\n" + b"0" * 1000)  # claims 1 GB, sends 1 kB
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    big = mon.post(
        "/submissions",
        data={"tps": tps, "race": "walikota"},
        files={"photo": ("f.jpg", b"\xff" * 17_000_000, "image/jpeg")},
    )
    assert big.status_code == 413
    static = httpx.get(f"{live.url}/static/../../api/infra/models.py")
    assert static.status_code == 404
    r = upload(mon, tps, "walikota", photo)  # and it still works
    assert r.status_code == 201
    after = admin.get("/submissions?limit=5000").json()["items"]
    assert {i["id"] for i in before} <= {i["id"] for i in after}
    assert len(after) == len(before) + 1


def test_exports_are_csv_and_xlsx_of_every_tps(live: LiveService, users) -> None:
    lead = as_user(live, users, "pimpinan")
    csv_text = lead.get("/exports/results.csv?race=gubernur").content.decode("utf-8-sig")
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("kecamatan,kelurahan,tps,dpt,status") and len(lines) == 329
    assert lines[0].endswith(",terverifikasi_pada,dikoreksi_mesin")
    xlsx = lead.get("/exports/results.xlsx?race=gubernur").content
    ws = load_workbook(io.BytesIO(xlsx)).active
    assert ws.max_row == 329 and ws.cell(1, 3).value == "tps"


def test_admin_imports_the_election_and_a_broken_file_changes_nothing(live: LiveService, users):
    admin = as_user(live, users, "admin")
    root = Path(__file__).resolve().parents[1] / "templates"
    yaml_bytes = (root / "election-demo.yaml").read_bytes()
    csv_text = (root / "election-demo-tps.csv").read_text(encoding="utf-8")
    r = admin.post(
        "/admin/election",
        files={"election": ("e.yaml", yaml_bytes), "regions": ("r.csv", csv_text.encode())},
    )
    assert r.status_code == 200, r.text
    assert r.json()["tps"] == 328 and r.json()["kecamatan"] == 8
    header = next(line for line in csv_text.splitlines() if not line.startswith("#"))
    broken = f"{header}\n167301,Kec,1673021001,Kel,1,300,0,TPS 1\n"  # kelurahan of another kec
    r = admin.post(
        "/admin/election",
        files={"election": ("e.yaml", yaml_bytes), "regions": ("r.csv", broken.encode())},
    )
    assert r.status_code == 422 and "baris 2" in r.json()["error"]["message"], r.text
    assert admin.get("/coverage?race=gubernur").json()["total"]["tps_total"] == 328
    mon = monitor_of(live, users, free_tps(admin, "gubernur", set())[7])
    files = {"election": ("e.yaml", yaml_bytes), "regions": ("r.csv", csv_text.encode())}
    assert mon.post("/admin/election", files=files).status_code == 403
