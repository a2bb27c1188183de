"""Input at the edges, through real HTTP (`sipantau serve --demo`) on SQLite and PostgreSQL:
ids beyond 64 bits, a chunked upload over the limit, corrections that are not JSON integers,
a damaged stored photo repaired by the same bytes, photos served as what they are, and the
security headers (in chromium: the monitor page and the docs page still run under them).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Route, expect

from tests.service import LiveService

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TRUTH = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))["photos"]
BIG = [2**63, 2**64 + 1, 10**30, 2**31]  # beyond a row id (32-bit on PostgreSQL) or 64 bits
FITS = [2**31 - 1, 987_654_321]
VIOLATIONS = """window.__csp = [];
document.addEventListener("securitypolicyviolation",
  e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""


def id_routes(sub_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The nine routes that take a submission id."""
    base = f"/submissions/{sub_id}"
    return [
        ("GET", base, None),
        ("GET", f"{base}/photo", None),
        ("GET", f"{base}/page.jpg", None),
        ("GET", f"{base}/fields/paslon_1.png", None),
        ("GET", f"{base}/history", None),
        ("POST", f"{base}/check", {"values": {}}),
        ("POST", f"{base}/corrections", {"values": {"paslon_1": 1}}),
        ("POST", f"{base}/approve", {}),
        ("POST", f"{base}/send-back", {"reason": "foto buram"}),
    ]


@pytest.fixture(scope="module")
def admin(service: LiveService) -> httpx.Client:
    return service.login_demo("admin")


def monitor(service: LiveService, index: int) -> tuple[httpx.Client, str]:
    users = [u for u in service.demo_credentials()["users"] if u["role"] == "monitor"]
    user = users[-1 - index]  # from the end: other modules' tests take the first ones
    return service.login(user["username"], user["password"]), user["tps"][0]


def send(client: httpx.Client, tps: str, race: str, data: bytes, name: str = "f.jpg"):
    return client.post(
        "/submissions?wait=20",
        data={"tps": tps, "race": race},
        files={"photo": (name, data, "application/octet-stream")},
    )


def sample_image(scale: float = 0.35) -> np.ndarray:
    item = next(i for i in TRUTH if i["template"] == "c-hasil-kwk-walikota")
    img = cv2.imdecode(np.frombuffer((SAMPLES / item["photo"]).read_bytes(), np.uint8), 1)
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def test_ids_out_of_range_are_422_and_large_ones_404(service: LiveService, admin) -> None:
    for sub_id in BIG + FITS:
        for method, path, body in id_routes(sub_id):
            r = admin.request(method, path, json=body)
            want = 422 if sub_id in BIG else 404
            assert r.status_code == want, (method, path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] in ("invalid_request", "not_found")
    for offset in BIG[:3]:
        r = admin.get(f"/submissions?offset={offset}")
        assert r.status_code == 422, (offset, r.status_code, r.text[:200])
    r = admin.get(f"/submissions?offset={2**63 - 1}")
    assert r.status_code == 200 and r.json()["items"] == []


def _chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def test_a_chunked_upload_over_the_limit_is_413(service: LiveService) -> None:
    mon, tps = monitor(service, 0)
    boundary = secrets.token_hex(8)
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in (("tps", tps), ("race", "walikota"))
    )
    body = (
        (
            f'{head}--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
            'filename="f.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + b"\xff" * 17_000_000
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = mon.post(
        "/submissions",
        content=_chunks(body),  # an iterator: sent chunked, no Content-Length
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "payload_too_large"


def test_corrections_take_only_json_integers_in_the_fields_range(service: LiveService, admin):
    mon, tps = monitor(service, 1)
    data = cv2.imencode(".jpg", sample_image(), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    sub = send(mon, tps, "walikota", data).json()
    view = admin.get(f"/submissions/{sub['id']}?wait=20").json()
    while view["status"] in ("queued", "reading"):
        view = admin.get(f"/submissions/{sub['id']}?wait=20").json()
    assert view["template"], view  # read as a known form: its fields can be corrected
    rev = service.login_demo("reviewer2")
    for path in ("check", "corrections"):
        for bad in (True, "12", 12.0, -1, 10**30, 1000):
            r = rev.post(f"/submissions/{sub['id']}/{path}", json={"values": {"paslon_1": bad}})
            assert r.status_code == 422, (path, bad, r.status_code, r.text[:200])
    r = rev.post(f"/submissions/{sub['id']}/check", json={"values": {"paslon_1": 12}})
    assert r.status_code == 200, r.text


def test_the_same_bytes_again_repair_a_damaged_stored_photo(service: LiveService, admin) -> None:
    mon, tps = monitor(service, 2)
    data = cv2.imencode(".jpg", sample_image(0.3), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    first = send(mon, tps, "walikota", data)
    assert first.status_code == 201, first.text
    sub_id = first.json()["id"]
    sha = hashlib.sha256(data).hexdigest()
    stored = service.data_dir / "photos" / sha[:2] / sha[2:4] / sha
    stored.write_bytes(data[: len(data) // 2] + b"\x00" * 16)  # bit rot
    damaged = admin.get(f"/submissions/{sub_id}/photo")
    assert damaged.status_code == 500 and damaged.json()["error"]["code"] == "photo_damaged"
    again = send(mon, tps, "walikota", data)
    assert again.status_code == 200 and again.json()["id"] == sub_id
    repaired = admin.get(f"/submissions/{sub_id}/photo")
    assert repaired.status_code == 200 and repaired.content == data


@pytest.mark.parametrize(
    ("ext", "kind"),
    [
        (".tiff", "image/tiff"),
        (".bmp", "image/bmp"),
        (".webp", "image/webp"),
        (".png", "image/png"),
    ],
)
def test_photos_are_served_as_what_they_are(service: LiveService, admin, ext, kind) -> None:
    mon, tps = monitor(service, 3 + [".tiff", ".bmp", ".webp", ".png"].index(ext))
    data = cv2.imencode(ext, sample_image(0.25))[1].tobytes()
    r = send(mon, tps, "walikota", data, name=f"f{ext}")
    assert r.status_code in (200, 201), r.text
    photo = admin.get(f"/submissions/{r.json()['id']}/photo")
    assert photo.status_code == 200 and photo.content == data
    assert photo.headers["content-type"] == kind
    assert photo.headers["x-content-type-options"] == "nosniff"


def test_every_answer_carries_the_security_headers(service: LiveService) -> None:
    for path in ("/m/", "/api/v1/health", "/api/v1/me", "/api/v1/docs", "/static/monitor.js"):
        r = httpx.get(f"{service.url}{path}")
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, (path, csp)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
    page = httpx.get(f"{service.url}/m/").headers["content-security-policy"]
    assert "script-src 'self';" in page and "unsafe-inline" not in page.split("style-src")[0]


def test_the_monitor_page_runs_under_its_policy(browser: Browser, service: LiveService) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.add_init_script(VIOLATIONS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{service.url}/m/")
    user = [u for u in service.demo_credentials()["users"] if u["role"] == "monitor"][-8]
    page.get_by_test_id("login-username").fill(user["username"])
    page.get_by_test_id("login-password").fill(user["password"])
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_be_visible()
    page.get_by_test_id("race-select").select_option("walikota")
    photo = cv2.imencode(".jpg", sample_image(0.3))[1].tobytes()
    page.get_by_test_id("photo-input").set_input_files(
        {"name": "f.jpg", "mimeType": "image/jpeg", "buffer": photo}
    )
    expect(page.get_by_test_id("result")).to_be_visible(timeout=120_000)  # sent and answered
    assert page.evaluate("window.__csp") == [] and errors == []
    context.close()


def test_the_docs_page_runs_under_its_policy(browser: Browser, service: LiveService) -> None:
    """Swagger UI comes from its CDN (unreachable here): a stand-in at the same URL shows
    that the policy lets the CDN script and the page's inline start run."""
    context = browser.new_context()

    def cdn(route: Route) -> None:
        if route.request.url.endswith(".js"):
            body = (
                "window.SwaggerUIBundle = function (c) {"
                " document.querySelector(c.dom_id).textContent = 'spec: ' + c.url; return {}; };"
                " SwaggerUIBundle.presets = {apis: 1};"
            )
            route.fulfill(body=body, content_type="text/javascript")
        else:
            route.fulfill(body="body { color: #000 }", content_type="text/css")

    context.route("https://cdn.jsdelivr.net/**", cdn)
    context.route("https://fastapi.tiangolo.com/**", lambda r: r.fulfill(status=404))
    page = context.new_page()
    page.add_init_script(VIOLATIONS)
    page.goto(f"{service.url}/api/v1/docs")
    expect(page.locator("#swagger-ui")).to_have_text("spec: /api/v1/openapi.json")
    assert page.evaluate("window.__csp") == []
    context.close()
