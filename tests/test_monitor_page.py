"""The monitor page (`/m/`) in headless chromium against the real service (`serve --demo`).

A monitor logs in, photographs a sample form (set_input_files), and sees the verdict; the
photo is shrunk in the browser, queued in IndexedDB while offline, sent once when the
signal is back, and a refused file is dropped from the queue with the server's reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.service import LiveService

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
READ_TIMEOUT_MS = 120_000  # the demo's own sample photos are read first
FINAL = re.compile(r"^(verified|review)$")
MB = 1_000_000


def _truth() -> list[dict[str, Any]]:
    return json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))["photos"]


def sample(template: str, index: int = 0) -> tuple[Path, str, str]:
    """(photo path, TPS code, race) of the `index`-th sample photo of a template."""
    item = [p for p in _truth() if p["template"] == template][index]
    race = "semua" if template == "sipantau-blanko" else template.rsplit("-", 1)[-1]
    return SAMPLES / item["photo"], item["tps"], race


def _unique_copy(photo: Path, tmp_path: Path) -> Path:
    """The photo with a few pixels changed: new bytes after the page re-encodes it, too."""
    import cv2

    image = cv2.imread(str(photo))
    image[:8, :8] = (image[:8, :8].astype(int) + 40).clip(0, 255).astype(image.dtype)
    out = tmp_path / photo.name
    cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return out


def monitor_of(service: LiveService, tps: str) -> tuple[str, str]:
    for user in service.demo_credentials()["users"]:
        if user["role"] == "monitor" and tps in user["tps"]:
            return user["username"], user["password"]
    raise AssertionError(f"no demo monitor for TPS {tps}")


@pytest.fixture(scope="module")
def admin(service: LiveService):
    user = next(u for u in service.demo_credentials()["users"] if u["username"] == "admin")
    return service.login("admin", user["password"])


def submissions(admin: Any, tps: str, race: str) -> list[dict[str, Any]]:
    r = admin.get("/submissions", params={"tps": tps, "race": race, "limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture
def page(browser: Browser, service: LiveService) -> Iterator[Page]:
    """A fresh phone-sized context (own localStorage and IndexedDB); fails on any JS error."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="id-ID")
    context.set_default_timeout(30_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{service.url}/m/")
    yield pg
    context.close()
    assert errors == [], f"JavaScript errors on the monitor page: {errors}"


def log_in(page: Page, username: str, password: str) -> None:
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_be_visible()


def choose(page: Page, tps: str, race: str) -> None:
    expect(page.get_by_test_id("tps-select")).to_have_value(tps)  # one TPS: preselected
    expect(page.get_by_test_id("tps-info")).to_contain_text("Kecamatan")
    page.get_by_test_id("race-select").select_option(race)


def no_signal(context: BrowserContext, lost: bool = True) -> None:
    """The phone loses (or regains) its signal: offline, and each request to the API aborted as
    a dropped connection (offline emulation can miss a request that passes through the page's
    service worker: microsoft/playwright#2311)."""
    if lost:
        context.set_offline(True)
        context.route("**/api/**", _disconnected)
    else:
        context.unroute("**/api/**", _disconnected)
        context.set_offline(False)


def _disconnected(route: Route) -> None:
    route.abort("internetdisconnected")


def queued_in_browser(page: Page) -> int:
    """How many photos the page holds in IndexedDB."""
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
            const req = indexedDB.open("sipantau-pemantau");
            req.onerror = () => reject(req.error);
            req.onsuccess = () => {
                const db = req.result;
                if (!db.objectStoreNames.contains("antrian")) { db.close(); resolve(0); return; }
                const count = db.transaction("antrian").objectStore("antrian").count();
                count.onsuccess = () => { db.close(); resolve(count.result); };
            };
        })"""
    )


def expect_final(page: Page) -> int:
    """Wait for a final verdict (verified or review); the submission id it shows."""
    result = page.get_by_test_id("result")
    expect(result).to_have_attribute("data-status", FINAL, timeout=READ_TIMEOUT_MS)
    if result.get_attribute("data-status") == "verified":
        expect(page.get_by_test_id("values-table")).to_be_visible()
    else:
        expect(page.get_by_test_id("result-message")).to_have_text(
            "Foto diterima; angka akan diperiksa petugas posko"
        )
    expect(page.get_by_test_id("rejected-box")).to_be_hidden()
    return int(result.get_attribute("data-id") or 0)


def test_upload_is_shrunk_and_read(page: Page, service: LiveService, admin: Any) -> None:
    photo, tps, race = sample("sipantau-blanko")
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, race)
    page.get_by_test_id("photo-input").set_input_files(photo)

    sub_id = expect_final(page)
    size = page.get_by_test_id("size-info")
    expect(size).to_contain_text("→")
    before, after = int(size.get_attribute("data-before")), int(size.get_attribute("data-after"))
    assert before == photo.stat().st_size
    assert after < MB and after < before / 2, (before, after)

    sent = admin.get(f"/submissions/{sub_id}/photo")  # the bytes exactly as uploaded
    assert sent.status_code == 200
    assert len(sent.content) == after
    with Image.open(io.BytesIO(sent.content)) as im, Image.open(photo) as orig:
        assert im.format == "JPEG"
        assert max(im.size) == 2000, im.size  # long side 2000 px, proportions kept
        assert im.size[0] / im.size[1] == pytest.approx(orig.size[0] / orig.size[1], rel=0.01)

    view = admin.get(f"/submissions/{sub_id}").json()
    assert (view["tps"], view["race"]) == (tps, race)
    mine = page.get_by_test_id("my-submissions").locator(f'[data-id="{sub_id}"]')
    expect(mine).to_have_attribute("data-status", view["status"])
    assert queued_in_browser(page) == 0


def test_offline_photo_is_kept_then_sent_once(page: Page, service: LiveService, admin: Any) -> None:
    photo, tps, race = sample("c-hasil-kwk-walikota")
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, race)
    known = {s["id"] for s in submissions(admin, tps, race)}

    no_signal(page.context)
    page.get_by_test_id("photo-input").set_input_files(photo)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    expect(page.get_by_test_id("offline-banner")).to_contain_text(
        "Tidak ada sinyal — foto disimpan dan akan dikirim otomatis"
    )
    expect(page.get_by_test_id("pending-count")).to_have_text("1")
    assert queued_in_browser(page) == 1
    assert {s["id"] for s in submissions(admin, tps, race)} == known  # nothing reached the server

    no_signal(page.context, lost=False)  # the `online` event sends the queue
    sub_id = expect_final(page)
    expect(page.get_by_test_id("pending")).to_be_hidden()
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()
    assert queued_in_browser(page) == 0

    new = [s for s in submissions(admin, tps, race) if s["id"] not in known]
    assert [s["id"] for s in new] == [sub_id]
    sent = admin.get(f"/submissions/{sub_id}/photo").content
    assert new[0]["photo_sha256"] == hashlib.sha256(sent).hexdigest()


def test_server_error_is_retried_with_the_same_photo(
    page: Page, service: LiveService, admin: Any, tmp_path: Path
) -> None:
    photo, tps, race = sample("sipantau-blanko", 1)
    photo = _unique_copy(photo, tmp_path)  # the session's service may have this sample already
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, race)
    known = {s["id"] for s in submissions(admin, tps, race)}
    posts: list[str] = []

    def flaky(route: Route) -> None:
        posts.append(route.request.url)
        if len(posts) == 1:
            body = {"error": {"code": "internal", "message": "server sibuk"}}
            route.fulfill(status=503, json=body)
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/submissions\?wait="), flaky)
    page.get_by_test_id("photo-input").set_input_files(photo)
    sub_id = expect_final(page)
    assert len(posts) == 2
    new = [s["id"] for s in submissions(admin, tps, race) if s["id"] not in known]
    assert new == [sub_id]
    assert queued_in_browser(page) == 0


def test_a_file_that_is_not_an_image_is_refused_once(
    page: Page, service: LiveService, admin: Any
) -> None:
    _, tps, race = sample("sipantau-blanko", 2)
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, race)
    known = {s["id"] for s in submissions(admin, tps, race)}
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    junk = {"name": "foto.jpg", "mimeType": "image/jpeg", "buffer": b"bukan foto, hanya teks\n"}
    page.get_by_test_id("photo-input").set_input_files(files=[junk])
    box = page.get_by_test_id("rejected-box")
    expect(box).to_be_visible()
    expect(box).to_contain_text("Berkas ini bukan foto")  # told on the phone, with no signal too
    expect(page.get_by_test_id("retake")).to_be_visible()
    expect(page.get_by_test_id("result")).to_have_attribute("data-code", "not_an_image")
    expect(page.get_by_test_id("pending")).to_be_hidden()
    assert queued_in_browser(page) == 0  # never queued, never sent
    assert [u for u in posts if "/api/v1/submissions" in u] == []
    assert {s["id"] for s in submissions(admin, tps, race)} == known


def test_wrong_password_shows_an_error(page: Page, service: LiveService) -> None:
    _, tps, _ = sample("sipantau-blanko", 3)
    username, password = monitor_of(service, tps)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password + "-salah")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("kata sandi salah")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_test_id("user-name")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('sipantau.token')") is None


def test_expired_session_returns_to_login(page: Page, service: LiveService) -> None:
    _, tps, _ = sample("sipantau-blanko", 3)
    log_in(page, *monitor_of(service, tps))
    token = page.evaluate("localStorage.getItem('sipantau.token')")
    assert service.client(token).post("/auth/logout").status_code == 204
    page.get_by_test_id("refresh").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Sesi berakhir, silakan masuk lagi")
    expect(page.get_by_test_id("login-form")).to_be_visible()


def test_monitor_reports_an_incident_for_their_tps(
    page: Page, service: LiveService, admin: Any
) -> None:
    _, tps, _ = sample("sipantau-blanko", 1)
    log_in(page, *monitor_of(service, tps))
    expect(page.get_by_test_id("tps-select")).to_have_value(tps)
    page.get_by_test_id("incident-kind").select_option("politik_uang")
    page.get_by_test_id("incident-note").fill("amplop dibagikan di depan TPS")
    page.get_by_test_id("incident-send").click()
    expect(page.get_by_test_id("incident-status")).to_contain_text("Laporan terkirim")
    items = admin.get("/incidents", params={"tps": tps}).json()["items"]
    mine = [i for i in items if i["source"] == "pemantau"]
    assert [(i["kind"], i["note"]) for i in mine] == [
        ("politik_uang", "amplop dibagikan di depan TPS")
    ]
