"""End to end in headless chromium against `sipantau serve --demo` with its UI: a reviewer
corrects the one misread number of a form and approves it by keyboard; leadership's
dashboard totals then grow by exactly that form's true values.

The form is made here by the samples generator (seed 77, form 5: Wali Kota pemilih is 213,
written so that the reader takes it for 215 and a sum breaks). Keystrokes are counted from the
review page showing the form; the time from the first key to "disetujui" is printed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from sipantau.bench.procs import free_port, wait_http
from sipantau.review_ui.review_logic import flagged_fields
from tests.conftest import _or_fail
from tests.service import LiveService

TPS = "1673011001-001"  # DPT 593 in the demo election
SEED, INDEX = 77, 5


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("e2e")
    live = LiveService(
        tmp, f"sqlite:///{tmp / 'sipantau.db'}", demo=True, samples=False, ui_port=free_port()
    )
    _or_fail(live.start)
    assert live.ui_url is not None
    _or_fail(lambda: wait_http(f"{live.ui_url}/_stcore/health", 60, interval_s=0.2))
    yield live
    live.stop()


def _upload_misread_form(svc: LiveService, tmp: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Send the generated photo as the TPS's monitor; (its submission once read, the truth)."""
    return svc.submit_blanko(tmp, TPS, SEED, INDEX)


def _log_in(page: Any, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()


def _shown(page: Any, svc: LiveService) -> str:
    """What the page shows and what the service logged last: for a failure's message."""
    return f"the page shows:\n{page.inner_text('body')[:3000]}\n{svc.log_tail(60)}"


def _paslon_metrics(page: Any, race: dict[str, Any], svc: LiveService) -> dict[str, int | None]:
    """The dashboard's per-paslon metrics ("Paslon 1": "1.234") for `race`; None for
    "belum ada data" (no TPS verified yet)."""
    try:
        page.get_by_label("Pemilihan").click()
    except PlaywrightTimeout as exc:
        raise AssertionError(f"no race picker on the dashboard; {_shown(page, svc)}") from exc
    page.get_by_role("option", name=race["name"]).click()
    page.get_by_role("button", name="Muat ulang").click()
    page.get_by_text("Suara terverifikasi").wait_for()
    page.wait_for_timeout(1500)  # the rerun settles
    out = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        if label in race["paslon"]:
            value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
            out[label] = None if value == "belum ada data" else int(value.replace(".", ""))
    return out


def test_reviewer_corrects_and_approves_then_leadership_sees_the_totals(
    svc: LiveService, browser, tmp_path: Path
) -> None:
    sub, truth = _upload_misread_form(svc, tmp_path)
    assert sub["status"] == "review", sub
    culprit = flagged_fields(sub)[0]
    assert culprit == "wako_pemilih" and sub["fields"][culprit]["value"] != truth[culprit], sub
    boss_api = svc.login_demo("pimpinan")
    races = {r["id"]: r for r in boss_api.get("/election").json()["races"]}

    boss = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _log_in(boss, svc.ui_url, "pimpinan", svc.demo_password("pimpinan"))
    boss.get_by_role("link", name="Dasbor hasil").click(timeout=30000)
    boss.get_by_role("heading", name="Dasbor hasil hitung cepat").wait_for(timeout=30000)
    before = {race: _paslon_metrics(boss, races[race], svc) for race in ("gubernur", "walikota")}
    assert all(v is None for race in before.values() for v in race.values()), before  # no data

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _log_in(page, svc.ui_url, "reviewer1", svc.demo_password("reviewer1"))
    page.get_by_role("button", name="Ambil formulir berikutnya").wait_for(timeout=30000)
    page.keyboard.press("Alt+N")
    page.get_by_role("heading", name=f"Formulir #{sub['id']}", exact=False).wait_for()
    page.wait_for_function(
        "(v) => document.activeElement && document.activeElement.value === v",
        arg=str(sub["fields"][culprit]["value"]),
    )
    keys = [*str(truth[culprit]), "Control+Enter"]
    start = time.monotonic()
    for key in keys:
        page.keyboard.press(key)
    page.get_by_text(f"Formulir #{sub['id']} (TPS {TPS}) disetujui.").wait_for(timeout=20000)
    seconds = time.monotonic() - start
    print(f"\nreview of a form with one misread field: {len(keys)} keystrokes, {seconds:.2f} s")
    assert len(keys) == 4  # the three digits of 213 and Ctrl+Enter: no click, no Tab

    after = {race: _paslon_metrics(boss, races[race], svc) for race in ("gubernur", "walikota")}
    for race, prefix in (("gubernur", "gub"), ("walikota", "wako")):
        grew = {name: after[race][name] - (before[race][name] or 0) for name in before[race]}
        names = races[race]["paslon"]
        want = {name: truth[f"{prefix}_paslon_{i}"] for i, name in enumerate(names, 1)}
        assert grew == want, (race, before[race], after[race])


HINTS_SHOWN = """() => Array.from(document.querySelectorAll('[data-testid="InputInstructions"]'))
  .some((el) => el.offsetParent !== null && el.innerText.trim() !== '')"""


def test_send_back_by_keyboard_takes_the_reason_as_typed(
    svc: LiveService, browser, tmp_path: Path
) -> None:
    """Type the reason, press Alt+K at once (no Enter, no click away): the form goes back
    with that reason the first time, and no English "Press Enter to apply" shows meanwhile."""
    tps = "1673011001-002"
    sub, _ = svc.submit_blanko(tmp_path, tps, SEED, INDEX)
    assert sub["status"] == "review", sub
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _log_in(page, svc.ui_url, "reviewer2", svc.demo_password("reviewer2"))
    page.get_by_role("button", name="Ambil formulir berikutnya").wait_for(timeout=30000)
    page.keyboard.press("Alt+N")
    page.get_by_role("heading", name=f"Formulir #{sub['id']}", exact=False).wait_for()
    first = sub["labels"][flagged_fields(sub)[0]]
    page.wait_for_function(  # the page has put the focus on the first flagged field
        "(l) => document.activeElement && document.activeElement.ariaLabel === l", arg=first
    )
    reason = "foto buram, mohon ulangi"
    box = page.get_by_label("Alasan dikembalikan ke pemantau")
    box.click()
    page.keyboard.type(reason)
    assert not page.evaluate(HINTS_SHOWN), "Streamlit's English input hint is showing"
    page.keyboard.press("Alt+K")
    page.get_by_text(f"Formulir #{sub['id']} dikembalikan ke pemantau.").wait_for(timeout=20000)
    assert page.get_by_text("minimal 3 huruf").count() == 0
    sent = svc.login_demo("admin").get(f"/submissions/{sub['id']}").json()
    assert sent["status"] == "sent_back" and reason in sent["message"], sent


def test_approve_as_written_by_keyboard_takes_the_reason_as_typed(
    svc: LiveService, browser, tmp_path: Path
) -> None:
    """The paper itself is inconsistent (an officer's slip): tick the box, type why, Ctrl+Enter
    at once."""
    tps = "1673011001-003"
    sub, _ = svc.submit_blanko(tmp_path, tps, SEED, INDEX, slip_rate=1.0)
    assert sub["status"] == "review", sub
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    _log_in(page, svc.ui_url, "reviewer1", svc.demo_password("reviewer1"))
    page.get_by_role("button", name="Ambil formulir berikutnya").wait_for(timeout=30000)
    page.keyboard.press("Alt+N")
    page.get_by_role("heading", name=f"Formulir #{sub['id']}", exact=False).wait_for()
    first = sub["labels"][flagged_fields(sub)[0]]
    page.wait_for_function(
        "(l) => document.activeElement && document.activeElement.ariaLabel === l", arg=first
    )
    page.get_by_text("Kertasnya sendiri memang tidak konsisten").click()
    box = page.get_by_label("Alasan menyetujui apa adanya")
    box.click()
    reason = "angka di kertas memang ditulis begitu oleh KPPS"
    page.keyboard.type(reason)
    page.keyboard.press("Control+Enter")
    page.get_by_text(f"Formulir #{sub['id']} (TPS {tps}) disetujui.").wait_for(timeout=20000)
    events = svc.login_demo("admin").get(f"/submissions/{sub['id']}/history").json()["events"]
    assert events[-1]["kind"] == "approved" and events[-1]["detail"]["reason"] == reason
