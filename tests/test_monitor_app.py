"""The monitor page as an app on a phone, in headless chromium against the real service:
it opens with no signal after a first visit (service worker), photos and incident reports
wait in one queue, the page says what to do, and its targets and text fit a thumb."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.service import LiveService
from tests.test_monitor_page import (
    choose,
    expect_final,
    log_in,
    monitor_of,
    no_signal,
    queued_in_browser,
    sample,
    submissions,
)

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "id-ID",
}


@pytest.fixture(scope="module")
def admin(service: LiveService) -> httpx.Client:
    return service.login_demo("admin")


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh 390x844 touch phone; fails on any JavaScript error of its pages."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(30_000)
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    yield context
    context.close()
    assert errors == [], f"JavaScript errors on the monitor page: {errors}"


def open_page(context: BrowserContext, service: LiveService) -> Page:
    page = context.new_page()
    page.goto(f"{service.url}/m/")
    return page


def controlled(page: Page) -> None:
    """Wait until the service worker is active and controls the page."""
    page.wait_for_function(
        "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)"
    )


def incidents_of(admin: httpx.Client, tps: str) -> list[dict[str, Any]]:
    items = admin.get("/incidents", params={"tps": tps}).json()["items"]
    return [i for i in items if i["source"] == "pemantau"]


def test_the_page_is_an_installable_app(service: LiveService) -> None:
    m = httpx.get(f"{service.url}/m/manifest.webmanifest")
    assert m.status_code == 200
    assert m.headers["content-type"].startswith("application/manifest+json")
    spec = m.json()
    assert (spec["start_url"], spec["scope"], spec["display"]) == ("/m/", "/m/", "standalone")
    sizes = set()
    for icon in spec["icons"]:
        r = httpx.get(f"{service.url}{icon['src']}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(r.content)) as im:
            assert f"{im.width}x{im.height}" == icon["sizes"]
            sizes.add(im.width)
    assert {192, 512} <= sizes
    sw = httpx.get(f"{service.url}/m/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["cache-control"] == "no-cache"  # a fixed worker reaches phones at once
    assert sw.headers["service-worker-allowed"] == "/m/"
    page = httpx.get(f"{service.url}/m/")
    assert '<link rel="manifest" href="/m/manifest.webmanifest">' in page.text


def _tps_of_no_sample(service: LiveService) -> str:
    """The last demo TPS that no sample photo names, so no other test files anything there."""
    used = {sample(t, i)[1] for t, n in SAMPLE_COUNTS.items() for i in range(n)}
    codes = sorted(
        u["username"].removeprefix("tps-")
        for u in service.demo_credentials()["users"]
        if u["username"].startswith("tps-")
    )
    return next(c for c in reversed(codes) if c not in used)


SAMPLE_COUNTS = {"sipantau-blanko": 4, "c-hasil-kwk-walikota": 2, "c-hasil-kwk-gubernur": 1}


def test_no_signal_the_page_opens_and_the_queue_is_sent_once(
    phone: BrowserContext, service: LiveService, admin: httpx.Client
) -> None:
    photo, _, race = sample("c-hasil-kwk-gubernur")
    tps = _tps_of_no_sample(service)  # the shared service: other tests file for sample TPSs
    page = open_page(phone, service)
    log_in(page, *monitor_of(service, tps))
    controlled(page)
    known = {s["id"] for s in submissions(admin, tps, race)}
    reports = len(incidents_of(admin, tps))

    no_signal(phone)
    page.reload()  # with no signal: the page still opens, from the phone
    expect(page.get_by_test_id("user-name")).to_be_visible()
    choose(page, tps, race)
    page.get_by_test_id("photo-input").set_input_files(photo)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    page.get_by_test_id("incident-kind").select_option("kericuhan")
    page.get_by_test_id("incident-note").fill("adu mulut di antrean")
    page.get_by_test_id("incident-send").click()
    expect(page.get_by_test_id("incident-status")).to_contain_text("disimpan di HP")
    expect(page.get_by_test_id("pending-count")).to_have_text("2")
    expect(page.get_by_test_id("pending-what")).to_have_text("(1 foto, 1 laporan)")

    page.close()  # the phone closes the page; reopening it offline shows the queue
    page = open_page(phone, service)
    expect(page.get_by_test_id("user-name")).to_be_visible()
    expect(page.get_by_test_id("pending-count")).to_have_text("2")
    assert queued_in_browser(page) == 2
    assert {s["id"] for s in submissions(admin, tps, race)} == known
    assert len(incidents_of(admin, tps)) == reports

    no_signal(phone, lost=False)  # back online: both leave the queue, once
    page.get_by_test_id("send-now").click()
    expect(page.get_by_test_id("pending")).to_be_hidden(timeout=120_000)
    expect(page.get_by_test_id("incident-status")).to_contain_text("Laporan terkirim")
    assert queued_in_browser(page) == 0
    new = [s for s in submissions(admin, tps, race) if s["id"] not in known]
    assert len(new) == 1
    sent = incidents_of(admin, tps)
    assert len(sent) == reports + 1
    assert (sent[0]["kind"], sent[0]["note"]) == ("kericuhan", "adu mulut di antrean")


def test_a_slow_upload_shows_its_progress(phone: BrowserContext, service: LiveService) -> None:
    photo, tps, race = sample("sipantau-blanko", 2)
    page = open_page(phone, service)
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, race)
    cdp = phone.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 100, "downloadThroughput": -1, "uploadThroughput": 60_000},
    )
    page.get_by_test_id("photo-input").set_input_files(photo)
    bar = page.get_by_test_id("upload-progress")
    expect(bar).to_be_visible()
    page.wait_for_function(
        """() => { const b = document.getElementById("upload-progress");
                   return !b.hidden && b.value > 0 && b.value < 100; }""",
        timeout=60_000,
    )
    expect(page.get_by_test_id("status")).to_contain_text(re.compile(r"Mengirim foto… \d+ %"))
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect_final(page)
    expect(bar).to_be_hidden()


def _sent(
    phone: BrowserContext, service: LiveService, template: str, index: int = 0
) -> tuple[Page, int, str, str]:
    """A sample photo sent from the monitor page of its TPS and read: (page, id, TPS, race)."""
    photo, tps, race = sample(template, index)
    page = open_page(phone, service)
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, race)
    page.get_by_test_id("photo-input").set_input_files(photo)
    return page, expect_final(page), tps, race


def test_the_same_photo_again_is_already_received_and_ticks_read_ya_tidak(
    phone: BrowserContext, service: LiveService, admin: httpx.Client
) -> None:
    page, sub_id, tps, race = _sent(phone, service, "sipantau-blanko", 0)
    if admin.get(f"/submissions/{sub_id}").json()["status"] != "verified":
        ok = service.login_demo("reviewer1").post(
            f"/submissions/{sub_id}/approve", json={"reason": "uji", "accept_problems": True}
        )
        assert ok.status_code == 200, ok.text

    page.get_by_test_id("photo-input").set_input_files(
        sample("sipantau-blanko", 0)[0]
    )  # the same photo again
    notice = page.get_by_test_id("already-received")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(f"sudah diterima sebelumnya (kiriman #{sub_id})")
    expect(page.get_by_test_id("result")).to_have_attribute("data-status", "verified")
    table = page.get_by_test_id("values-table")
    for label in ("Situasi aman", "Situasi insiden"):
        cell = table.locator("tr", has=page.locator("th", has_text=label)).locator("td")
        expect(cell).to_have_text(re.compile(r"^(Ya|Tidak)$"))


def test_a_file_that_is_not_a_photo_or_is_cut_off_is_refused_on_the_phone(
    phone: BrowserContext, service: LiveService
) -> None:
    photo, tps, race = sample("sipantau-blanko", 1)
    page = open_page(phone, service)
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, race)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    cases = {
        "not_an_image": (
            {"name": "catatan.jpg", "mimeType": "image/jpeg", "buffer": b"bukan foto\n"},
            "bukan foto",
        ),
        "truncated": (
            {"name": "foto.jpg", "mimeType": "image/jpeg", "buffer": photo.read_bytes()[:300_000]},
            "terpotong",
        ),
    }
    for code, (file, words) in cases.items():
        page.get_by_test_id("photo-input").set_input_files(files=[file])
        expect(page.get_by_test_id("result")).to_have_attribute("data-code", code)
        box = page.get_by_test_id("rejected-box")
        expect(box).to_contain_text(words)
        expect(page.get_by_test_id("size-info")).to_be_hidden()  # no "Ukuran foto: 11 B"
        expect(page.get_by_test_id("retake")).to_be_visible()
    assert queued_in_browser(page) == 0
    assert [u for u in posts if "/submissions" in u] == []


def test_a_wrong_sheet_says_which_form_to_pick_and_retake_preselects_it(
    phone: BrowserContext, service: LiveService
) -> None:
    photo, tps, _ = sample("c-hasil-kwk-walikota")
    page = open_page(phone, service)
    log_in(page, *monitor_of(service, tps))
    choose(page, tps, "semua")  # a walikota sheet sent as the blanko
    page.get_by_test_id("photo-input").set_input_files(photo)
    result = page.get_by_test_id("result")
    expect(result).to_have_attribute("data-status", "rejected", timeout=120_000)
    box = page.get_by_test_id("rejected-box")
    expect(box).to_contain_text("pilih formulir")
    expect(box).to_contain_text("C.HASIL-KWK Walikota")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("retake").click()
    assert chooser.value is not None
    expect(page.get_by_test_id("race-select")).to_have_value("walikota")


def test_a_sent_back_form_gets_a_banner_whose_button_retakes_it(
    phone: BrowserContext, service: LiveService, admin: httpx.Client
) -> None:
    page, sub_id, tps, race = _sent(phone, service, "sipantau-blanko", 3)
    r = service.login_demo("reviewer2").post(
        f"/submissions/{sub_id}/send-back", json={"reason": "angka tertutup jari"}
    )
    assert r.status_code == 200, r.text
    page.get_by_test_id("race-select").select_option("walikota")  # the monitor moved on
    page.get_by_test_id("refresh").click()
    banner = page.get_by_test_id("sentback-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("angka tertutup jari")
    with page.expect_file_chooser():
        page.get_by_test_id("sentback-retake").click()
    expect(page.get_by_test_id("race-select")).to_have_value(race)  # the form preselected


def test_targets_and_text_fit_a_thumb_and_the_header_keeps_the_name(
    phone: BrowserContext, service: LiveService
) -> None:
    photo, tps, race = sample("sipantau-blanko", 1)
    page = open_page(phone, service)
    measure(page, "login")
    username, password = monitor_of(service, tps)
    log_in(page, username, password)
    choose(page, tps, race)
    page.get_by_test_id("photo-input").set_input_files(photo)
    expect_final(page)  # the result card and a list entry are on screen too
    expect(page.get_by_test_id("my-submissions").locator("li")).not_to_have_count(0)
    measure(page, "main")
    name = page.get_by_test_id("user-name")
    expect(name).to_have_text(re.compile(re.escape(tps)))
    cut = name.evaluate(
        "e => e.scrollWidth > e.clientWidth || e.getBoundingClientRect().right > innerWidth"
    )
    assert not cut, f"the header cuts {username!r}"


def test_a_monitor_withdraws_an_upload(
    phone: BrowserContext, service: LiveService, admin: httpx.Client
) -> None:
    page, sub_id, tps, race = _sent(phone, service, "c-hasil-kwk-walikota", 1)
    item = page.get_by_test_id("my-submissions").locator(f'[data-id="{sub_id}"]')
    button = item.get_by_test_id("withdraw")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_contain_text(f"Ya, tarik #{sub_id}")  # one tap withdraws nothing
    assert admin.get(f"/submissions/{sub_id}").json()["status"] != "withdrawn"
    button.click()
    entry = page.get_by_test_id("my-submissions").locator(f'[data-id="{sub_id}"]')
    expect(entry).to_have_attribute("data-status", "withdrawn")
    expect(entry.get_by_test_id("withdraw")).to_have_count(0)
    view = admin.get(f"/submissions/{sub_id}").json()
    assert view["status"] == "withdrawn"
    events = admin.get(f"/submissions/{sub_id}/history").json()["events"]
    assert events[-1]["kind"] == "withdrawn" and events[-1]["by"] == monitor_of(service, tps)[0]


MEASURE = """() => {
  const out = [], seen = new Set();
  const visible = e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return r.width > 2 && r.height > 2 && s.visibility !== "hidden" && s.display !== "none"; };
  const targets = 'button, select, textarea, input:not([type=file]), a[href], label.btn';
  for (const e of document.querySelectorAll(targets)) {
    if (!visible(e)) continue;
    const r = e.getBoundingClientRect();
    const what = e.id || e.textContent.trim().slice(0, 20);
    if (r.width < 44 || r.height < 44)
      out.push(`target ${what}: ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  for (const e of document.querySelectorAll("body *")) {
    const text = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!text || !visible(e) || seen.has(e)) continue;
    seen.add(e);
    const px = parseFloat(getComputedStyle(e).fontSize);
    if (px < 16) out.push(`text ${e.tagName} "${e.textContent.trim().slice(0, 20)}": ${px} px`);
  }
  return out;
}"""


def measure(page: Page, where: str) -> None:
    """Every visible tap target >= 44x44 CSS px and every visible text >= 16 px."""
    assert page.evaluate("innerWidth") == 390
    problems = page.evaluate(MEASURE)
    assert problems == [], f"{where}: {problems}"
