"""Screenshots of every posko page for the README: `python -m sipantau.bench.screenshots`.

Starts `sipantau serve --demo` (sample photos read by a real worker, the Streamlit UI on its
own port), adds through the API what the quieter pages need (a situation report; KPU figures
for the governor race built from the verified forms, one TPS off by 5), then logs in with
headless Debian chromium (Playwright) as a reviewer and as leadership and writes
`docs/screenshots/<page>.png`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from sipantau.bench import procs

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
LEADER_PAGES = (
    ("dashboard", "Dasbor hasil"),
    ("gap", "Selisih dengan KPU"),
    ("incidents", "Laporan situasi"),
)


def start(data: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`serve --demo` with the UI; (process, API URL, UI URL) once both answer."""
    api_port, ui_port = procs.free_port(), procs.free_port()
    cmd = [*procs.CLI, "serve", "--demo", "--data", str(data), "--port", str(api_port)]
    cmd += ["--workers", "1", "--ui-port", str(ui_port)]
    log = (data.parent / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api, ui = f"http://127.0.0.1:{api_port}/api/v1", f"http://127.0.0.1:{ui_port}"
    try:
        procs.wait_http(f"{api}/health", 120, proc, interval_s=0.3)
        procs.wait_http(f"{ui}/_stcore/health", 120, proc, interval_s=0.3)
    except procs.NotAnswering as exc:
        raise SystemExit(f"serve did not start ({exc}); see {data.parent / 'serve.log'}") from exc
    return proc, api, ui


def prepare(api: str, creds: dict[str, str]) -> None:
    """Wait for the samples to be read; add one situation report and KPU's governor figures."""
    admin = _client(api, "admin", creds["admin"])
    deadline = time.monotonic() + 120
    while any(
        s["status"] in ("queued", "reading")
        for s in admin.get("/submissions", params={"limit": 100}).json()["items"]
    ):
        if time.monotonic() > deadline:
            raise SystemExit("the sample photos were not read in 120 s")
        time.sleep(0.5)
    tps = admin.get("/coverage", params={"race": "gubernur", "level": "tps"}).json()["rows"]
    reviewer = _client(api, "reviewer2", creds["reviewer2"])
    note = "Warga berkerumun di depan TPS saat penghitungan; aman setelah ditenangkan."
    reviewer.post("/incidents", json={"tps": tps[3]["code"], "kind": "kericuhan", "note": note})
    rows = admin.get("/results", params={"race": "gubernur", "level": "tps"}).json()["rows"]
    lines = ["tps,paslon_1,paslon_2,paslon_3"]
    for i, r in enumerate(x for x in rows if x["tps_verified"]):
        votes = [v - (5 if i == 0 and j == 0 else 0) for j, v in enumerate(r["votes"])]
        lines.append(",".join(map(str, [r["code"], *votes])))
    files = {"file": ("kpu.csv", "\n".join(lines).encode(), "text/csv")}
    r = admin.post("/admin/official-results", params={"race": "gubernur"}, files=files)
    r.raise_for_status()


def _client(api: str, username: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=api, timeout=60)
    r = c.post("/auth/login", json={"username": username, "password": password})
    r.raise_for_status()
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return c


def settle(page: Any, wait_s: float = 1.5) -> None:
    """Until Streamlit has finished running the script, then a moment for charts to draw."""
    time.sleep(0.5)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    time.sleep(wait_s)


def log_in(page: Any, ui: str, username: str, password: str) -> None:
    page.goto(ui)
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    settle(page)


def shoot(page: Any, out: Path, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so the window is made as tall."""
    path = out / f"{name}.png"
    tall = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=stMain] *')]"
        ".slice(0, 1).map(e => e.scrollHeight), 900)"
    )
    page.set_viewport_size({"width": 1440, "height": min(int(tall) + 40, 5000)})
    time.sleep(1.5)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 900})
    print(path, flush=True)
    return path


def take(ui: str, creds: dict[str, str], out: Path) -> list[Path]:
    """Every page, as the role that uses it."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("`chromium` not found on PATH: run `bash .ci/install`")
    shots: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(ui)
        settle(page)
        shots.append(shoot(page, out, "login"))
        log_in(page, ui, "reviewer1", creds["reviewer1"])
        shots.append(shoot(page, out, "queue"))
        page.get_by_role("button", name="Ambil formulir berikutnya").first.click()
        settle(page, 2.5)
        shots.append(shoot(page, out, "review"))
        page.get_by_role("link", name="Riwayat formulir").click()
        settle(page)
        shots.append(shoot(page, out, "history"))
        context.close()
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        log_in(page, ui, "pimpinan", creds["pimpinan"])
        for name, title in LEADER_PAGES:
            page.get_by_role("link", name=title).click()
            settle(page, 3.0)
            shots.append(shoot(page, out, name))
        browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sipantau.bench.screenshots", description=__doc__)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="sipantau-shots-"))
    proc, api, ui = start(root / "data")
    try:
        users = json.loads((root / "data" / "demo-credentials.json").read_text())["users"]
        creds = {u["username"]: u["password"] for u in users if u["role"] != "monitor"}
        prepare(api, creds)
        take(ui, creds, args.out)
    finally:
        procs.stop(proc)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
