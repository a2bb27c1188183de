"""The real service in a subprocess (`sipantau serve`), and a real headless chromium.

`LiveService` runs the installed `sipantau serve` against a given database, waits for
`GET /api/v1/health`, and hands out logged-in `httpx` clients; its logs (the API's and the
workers') land next to its data dir. `launch_chromium` starts Debian's `chromium` through
Playwright; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from sipantau.bench.procs import NotAnswering, free_port, wait_http

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright
    from sqlalchemy import Connection

INSTALL_HINT = "run `bash .ci/install`"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium on PATH, or a failure that says how to get it."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(f"`chromium` not found on PATH: {INSTALL_HINT}")
    return path


def launch_chromium(playwright: Playwright, **kwargs: Any) -> Browser:
    """Headless system chromium, offline-friendly flags; `kwargs` go to `chromium.launch`."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS, **kwargs
    )


def process_alive(pid: int) -> bool:
    """Running: neither gone nor a zombie (an orphan's zombie stays if PID 1 never reaps)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def sipantau_executable() -> Path:
    """The `sipantau` script of the venv running the tests."""
    exe = Path(sys.executable).parent / "sipantau"
    if not exe.exists():
        raise RuntimeError(f"{exe} missing (the project is not installed): {INSTALL_HINT}")
    return exe


class LiveService:
    """`sipantau serve` on a free loopback port, with its own data dir and logs under `tmp`.

    `demo` adds `--demo` (demo election and accounts) and, unless `samples=False`, the sample
    photos; `job_lease_s` sets `SIPANTAU_JOB_LEASE_S`; `env` adds other variables;
    `ui_port` also starts the review UI (Streamlit) there, at `ui_url` (default: `--no-ui`).
    """

    def __init__(
        self,
        tmp: Path,
        database_url: str,
        *,
        workers: int = 1,
        demo: bool = False,
        samples: bool = True,
        job_lease_s: float | None = None,
        env: dict[str, str] | None = None,
        ui_port: int | None = None,
    ) -> None:
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.database_url = database_url
        self.workers = workers
        self.demo = demo
        self.samples = samples
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api/v1"
        self.ui_port = ui_port
        self.ui_url = f"http://127.0.0.1:{ui_port}" if ui_port else None
        self.stdout_log = tmp / "serve.stdout.log"
        self.stderr_log = tmp / "serve.stderr.log"
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.env.setdefault("SIPANTAU_CONTRACT", "strict")  # a key no response model declares fails
        if job_lease_s is not None:
            self.env["SIPANTAU_JOB_LEASE_S"] = str(job_lease_s)
        self._proc: subprocess.Popen[bytes] | None = None
        self.left_behind: list[int] = []
        self._clients: list[httpx.Client] = []

    @property
    def command(self) -> list[str]:
        cmd = [str(sipantau_executable()), "serve", "--data", str(self.data_dir)]
        cmd += ["--database-url", self.database_url, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--workers", str(self.workers)]
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--no-ui"]
        if self.demo:
            cmd += ["--demo"] if self.samples else ["--demo", "--no-samples"]
        return cmd

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("service not started")
        return self._proc.pid

    def start(self, timeout_s: float = 60.0) -> LiveService:
        """Launch and wait until health answers 200; fail with the log tail otherwise."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        with self.stdout_log.open("ab") as out, self.stderr_log.open("ab") as err:
            # own session: `stop` can kill serve and its workers as one process group
            self._proc = subprocess.Popen(
                self.command, stdout=out, stderr=err, env=self.env, start_new_session=True
            )
        try:
            wait_http(f"{self.api}/health", timeout_s, self._proc)
        except NotAnswering as exc:
            self.stop()
            raise RuntimeError(self._failure(str(exc))) from exc
        return self

    def worker_pids(self) -> list[int]:
        """Pids of the running workers, one `<data>/run/workers/*.pid` file each (sorted)."""
        pids = []
        for f in sorted((self.data_dir / "run" / "workers").glob("*.pid")):
            text = f.read_text().strip()
            if text.isdigit():
                pids.append(int(text))
        return pids

    def wait_for_workers(self, count: int | None = None, timeout_s: float = 60.0) -> list[int]:
        """Wait until `count` (default: all) workers have written their pid files."""
        count = self.workers if count is None else count
        deadline = time.monotonic() + timeout_s
        while len(pids := self.worker_pids()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(self._failure(f"{len(pids)} of {count} workers started"))
            time.sleep(0.1)
        return pids

    def client(self, token: str | None = None) -> httpx.Client:
        """An httpx client on `/api/v1` (relative paths: `client.get("/me")`), closed by stop."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.api, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def login(self, username: str, password: str) -> httpx.Client:
        """A client carrying the bearer token of a fresh login."""
        r = httpx.post(
            f"{self.api}/auth/login", json={"username": username, "password": password}, timeout=30
        )
        if r.status_code != 200:
            raise RuntimeError(f"login {username!r}: {r.status_code} {r.text}")
        return self.client(r.json()["token"])

    def demo_credentials(self) -> dict[str, Any]:
        """With `demo=True`: the accounts `serve --demo` wrote to `<data>/demo-credentials.json`."""
        return json.loads((self.data_dir / "demo-credentials.json").read_text(encoding="utf-8"))

    def demo_password(self, username: str) -> str:
        """With `demo=True`: the password `serve --demo` gave `username`."""
        users = self.demo_credentials()["users"]
        return next(u["password"] for u in users if u["username"] == username)

    def login_demo(self, username: str) -> httpx.Client:
        """With `demo=True`: a client logged in as the demo account `username`."""
        return self.login(username, self.demo_password(username))

    def submit_blanko(
        self, tmp: Path, tps: str, seed: int, index: int, slip_rate: float = 0.0
    ) -> tuple[dict[str, Any], dict[str, int]]:
        """With `demo=True`: a blanko made by the samples generator (form `index` of `seed`;
        `slip_rate` 1.0: an officer's slip on paper, held for review whatever the reader reads),
        sent by the TPS's monitor and read; (its submission, the values on paper)."""
        from sipantau.samples.make import make_one
        from sipantau.templates.registry import get_template

        template = get_template("sipantau-blanko")
        record = make_one(template, index, tps, "careful", seed, slip_rate, tmp)
        r = self.login_demo(f"tps-{tps}").post(
            "/submissions",
            params={"wait": 20},
            data={"tps": tps, "race": "semua"},
            files={"photo": ("form.jpg", (tmp / record["photo"]).read_bytes(), "image/jpeg")},
        )
        assert r.status_code == 201, r.text
        return r.json(), record["fields"]

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, SIGKILL (to the whole group) after `timeout_s`; serve's exit code.

        Workers still running once serve has exited are listed in `left_behind`, then killed.
        """
        for client in self._clients:
            client.close()
        self._clients.clear()
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        workers = self.worker_pids()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.left_behind = [pid for pid in workers if process_alive(pid)]
        try:  # whatever is left of the group: serve itself, or workers it left behind
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = proc.wait()
        deadline = time.monotonic() + 5
        while any(process_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        return code

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.stderr_log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _failure(self, what: str) -> str:
        return (
            f"sipantau serve {what}\ncommand: {' '.join(self.command)}\n"
            f"stderr tail ({self.stderr_log}):\n{self.log_tail()}"
        )

    def __enter__(self) -> LiveService:
        return self.start() if self._proc is None else self

    def __exit__(self, *_: object) -> None:
        self.stop()


def job_record(db: Connection, sub_id: int) -> dict[str, Any]:
    """A submission's job (id, state, attempts, owner), its readings and its `read` events:
    what "read exactly once" is checked on."""
    from sqlalchemy import func, select

    from sipantau.api.infra.models import Event, Job, Reading

    job = db.execute(select(Job).where(Job.submission_id == sub_id)).one()
    readings = db.scalar(
        select(func.count()).select_from(Reading).where(Reading.submission_id == sub_id)
    )
    reads = db.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.submission_id == sub_id, Event.kind == "read")
    )
    return {
        "job": job.id,
        "state": job.state,
        "attempts": job.attempts,
        "owner": job.owner,
        "readings": readings,
        "reads": reads,
    }
