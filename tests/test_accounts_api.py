"""Logins and sessions through real HTTP (`sipantau serve --demo`), on SQLite and PostgreSQL:
throttling that holds under parallel guesses and cannot be turned against staff, addresses
believed only from configured proxies or the posko's screens, sessions ended by a password
reset or a deactivation, users changing their own password, one password per demo account.

The service trusts 127.0.0.2 as its proxy; each test connects from its own loopback address
(127.0.0.x, all of 127/8 reaches the server), so one test's failures never throttle another.
"""

from __future__ import annotations

import json
import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import _or_fail
from tests.service import LiveService

APP = Path(__file__).resolve().parents[1] / "review_ui" / "app.py"
PROXY = "127.0.0.2"
UI_SECRET = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def svc(service_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    env = {"SIPANTAU_TRUSTED_PROXIES": PROXY, "SIPANTAU_UI_SECRET": UI_SECRET}
    live = LiveService(
        tmp_path_factory.mktemp("accounts"), service_db_url, demo=True, samples=False, env=env
    )
    _or_fail(live.start)
    yield live
    live.stop()


def client_from(svc: LiveService, address: str, token: str | None = None) -> httpx.Client:
    """A client whose connections come from the loopback address `address`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.HTTPTransport(local_address=address)
    client = httpx.Client(base_url=svc.api, transport=transport, headers=headers, timeout=120)
    svc._clients.append(client)  # closed by svc.stop
    return client


def login(client: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    return client.post(
        "/auth/login", json={"username": username, "password": password}, headers=headers
    )


def monitor(svc: LiveService, index: int) -> tuple[str, str]:
    users = [u for u in svc.demo_credentials()["users"] if u["role"] == "monitor"]
    return users[index]["username"], users[index]["password"]


def test_parallel_guesses_stop_at_the_limit_and_never_fail(svc: LiveService) -> None:
    name, right = monitor(svc, 0)
    guesser = client_from(svc, "127.0.0.10")
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda i: login(guesser, name, f"salah-{i}"), range(40)))
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {401, 429}, codes  # never a 500
    assert codes.count(401) <= 5 and codes.count(429) >= 35, codes
    for r in answers:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) > 0
            assert r.json()["error"]["code"] == "too_many_attempts"
    assert login(guesser, name, right).status_code == 429  # this address is held back
    # ... but the account is not: its owner, elsewhere, logs in
    assert login(client_from(svc, "127.0.0.11"), name, right).status_code == 200


def test_a_client_cannot_pick_its_address_with_x_forwarded_for(svc: LiveService) -> None:
    name, _ = monitor(svc, 1)
    # 127.0.0.1: the address uvicorn believed X-Forwarded-For from by default
    direct = client_from(svc, "127.0.0.1")
    codes = []
    for i in range(30):
        r = login(direct, name, "salah", **{"X-Forwarded-For": f"198.51.100.{i + 1}"})
        codes.append(r.status_code)
        if r.status_code == 429:
            break
    assert codes == [401] * 5 + [429], codes


def test_forwarded_addresses_are_believed_from_the_configured_proxy(svc: LiveService) -> None:
    name, right = monitor(svc, 2)
    proxy = client_from(svc, PROXY)
    for _ in range(5):
        r = login(proxy, name, "salah", **{"X-Forwarded-For": "203.0.113.7"})
        assert r.status_code == 401
    assert login(proxy, name, right, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    # the hop the proxy saw counts, not what the client prepended
    spoofed = {"X-Forwarded-For": "203.0.113.8, 203.0.113.7"}
    assert login(proxy, name, right, **spoofed).status_code == 429
    assert login(proxy, name, right, **{"X-Forwarded-For": "203.0.113.9"}).status_code == 200


def test_strangers_cannot_lock_out_the_posko(svc: LiveService) -> None:
    """20 failures with random names from one browser, through the posko's screens (which
    name the browser's address with the shared secret), then reviewer1 logs in from another."""
    ui = client_from(svc, "127.0.0.13")  # the posko's screens: one server for every browser
    stranger = {"X-Sipantau-UI-Secret": UI_SECRET, "X-Sipantau-Client-Address": "192.0.2.66"}
    codes = [
        login(ui, f"tebak{i}-{secrets.token_hex(3)}", "salah", **stranger).status_code
        for i in range(25)
    ]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}, codes
    right = svc.demo_password("reviewer1")
    assert login(ui, "reviewer1", right, **stranger).status_code == 429  # that browser only
    reviewer = {"X-Sipantau-UI-Secret": UI_SECRET, "X-Sipantau-Client-Address": "192.0.2.10"}
    assert login(ui, "reviewer1", right, **reviewer).status_code == 200
    assert login(ui, "reviewer1", right).status_code == 200  # the UI server itself: not held
    # without the right secret the address header is ignored: the attempts count on the peer
    liar = client_from(svc, "127.0.0.14")
    forged = {"X-Sipantau-UI-Secret": "salah", "X-Sipantau-Client-Address": "192.0.2.1"}
    codes = [login(liar, f"x{i}", "salah", **forged).status_code for i in range(21)]
    assert codes[-1] == 429, codes
    other = {"X-Sipantau-UI-Secret": "salah", "X-Sipantau-Client-Address": "192.0.2.2"}
    assert login(liar, "reviewer1", right, **other).status_code == 429


def test_a_reset_or_deactivation_ends_every_session(svc: LiveService) -> None:
    admin = svc.login_demo("admin")
    name, pw = monitor(svc, 3)
    old = [svc.login(name, pw), svc.login(name, pw)]
    assert all(c.get("/me").status_code == 200 for c in old)
    r = admin.patch(f"/admin/users/{name}", json={"password": "baru-sekali-123"})
    assert r.status_code == 200, r.text
    assert [c.get("/me").status_code for c in old] == [401, 401]
    fresh = svc.login(name, "baru-sekali-123")
    assert fresh.get("/me").status_code == 200
    assert admin.patch(f"/admin/users/{name}", json={"active": False}).status_code == 200
    assert fresh.get("/me").status_code == 401
    assert admin.patch(f"/admin/users/{name}", json={"active": True}).status_code == 200
    assert fresh.get("/me").status_code == 401  # reactivation does not revive old sessions
    assert svc.login(name, "baru-sekali-123").get("/me").status_code == 200


def test_users_change_their_own_password(svc: LiveService) -> None:
    name, pw = monitor(svc, 4)
    here, elsewhere = svc.login(name, pw), svc.login(name, pw)
    wrong = here.post("/auth/password", json={"current_password": "x", "new_password": "n" * 9})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    short = here.post("/auth/password", json={"current_password": pw, "new_password": "pendek"})
    assert short.status_code == 422
    r = here.post("/auth/password", json={"current_password": pw, "new_password": "sandi-baru-1"})
    assert r.status_code == 204, r.text
    assert here.get("/me").status_code == 200  # this session stays
    assert elsewhere.get("/me").status_code == 401  # every other one ends
    anon = client_from(svc, "127.0.0.15")
    assert login(anon, name, pw).status_code == 401
    assert login(anon, name, "sandi-baru-1").status_code == 200
    staff = svc.login_demo("reviewer2")
    r = staff.post(
        "/auth/password",
        json={"current_password": svc.demo_password("reviewer2"), "new_password": "posko-2-baru"},
    )
    assert r.status_code == 204
    assert login(anon, "reviewer2", "posko-2-baru").status_code == 200


def test_demo_accounts_each_have_their_own_password_kept_only_in_the_file(
    svc: LiveService,
) -> None:
    path = svc.data_dir / "demo-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["users"]
    monitors = [u for u in users if u["role"] == "monitor"]
    assert len(monitors) == 328
    assert len({u["password"] for u in users}) == len(users)  # no two accounts share one
    a, b = monitors[10], monitors[11]
    anon = client_from(svc, "127.0.0.16")
    assert login(anon, a["username"], b["password"]).status_code == 401
    assert login(anon, a["username"], a["password"]).status_code == 200
    out = Path(svc.stdout_log).read_text(encoding="utf-8")
    assert str(path) in out and "admin" in out
    assert not any(u["password"] in out for u in users)
    assert "reviewer1" not in out and "tps-" not in out


def test_a_monitor_changes_their_password_on_the_phone_page(browser, svc: LiveService) -> None:
    name, pw = monitor(svc, 5)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{svc.url}/m/")
    page.get_by_test_id("login-username").fill(name)
    page.get_by_test_id("login-password").fill(pw)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_be_visible()
    page.get_by_text("Ganti kata sandi", exact=True).first.click()  # opens the card
    page.get_by_test_id("password-current").fill(pw)
    page.get_by_test_id("password-next").fill("sandi-ponsel-1")
    page.get_by_test_id("password-again").fill("sandi-ponsel-2")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-status")).to_contain_text("tidak sama")
    page.get_by_test_id("password-again").fill("sandi-ponsel-1")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-status")).to_contain_text("sudah diganti")
    context.close()
    assert errors == []
    anon = client_from(svc, "127.0.0.17")
    assert login(anon, name, pw).status_code == 401
    assert login(anon, name, "sandi-ponsel-1").status_code == 200


def test_staff_change_their_password_in_the_posko_screens(svc: LiveService, monkeypatch) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SIPANTAU_API_URL", svc.api)
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.text_input[0].input("pimpinan")
    at.text_input[1].input(svc.demo_password("pimpinan"))
    at.button[0].click().run()
    assert at.session_state["user"]["username"] == "pimpinan"
    at.text_input(key="pw_current").input(svc.demo_password("pimpinan"))
    at.text_input(key="pw_new").input("pimpinan-baru-1")
    at.text_input(key="pw_again").input("pimpinan-baru-1")
    next(b for b in at.button if b.label == "Ganti kata sandi").click().run()
    assert any("sudah diganti" in s.value for s in at.success), [e.value for e in at.error]
    anon = client_from(svc, "127.0.0.18")
    assert login(anon, "pimpinan", "pimpinan-baru-1").status_code == 200


def test_the_posko_screens_send_the_headers_the_api_believes(monkeypatch) -> None:
    """The screens' side of the handshake (the API's side is tested above over HTTP)."""
    from sipantau.api.web.client_address import UI_ADDRESS_HEADER, UI_SECRET_HEADER
    from sipantau.review_ui import client

    monkeypatch.setattr(client, "browser_address", lambda: "192.0.2.44")
    monkeypatch.delenv("SIPANTAU_UI_SECRET", raising=False)
    assert client.vouch_headers() == {}  # no secret: nothing is claimed
    monkeypatch.setenv("SIPANTAU_UI_SECRET", "rahasia")
    sent = {k.lower(): v for k, v in client.vouch_headers().items()}
    assert sent == {UI_SECRET_HEADER: "rahasia", UI_ADDRESS_HEADER: "192.0.2.44"}
    monkeypatch.setattr(client, "browser_address", lambda: None)  # localhost: Streamlit says None
    assert client.vouch_headers() == {}
