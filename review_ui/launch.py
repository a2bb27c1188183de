"""Start the posko's Streamlit app as a process next to the API (`sipantau serve`), or alone
(`sipantau ui`). The app reaches the data only through the API at `SIPANTAU_API_URL`."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("sipantau.ui")
APP = Path(__file__).with_name("app.py")


def api_url_for(host: str, port: int) -> str:
    """The API's URL as the UI process on the same machine reaches it."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/api/v1"


def ui_command(host: str, port: int) -> list[str]:
    """`streamlit run review_ui/app.py` headless on `host:port`, no file watching."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def ui_env(api_url: str) -> dict[str, str]:
    return dict(os.environ, SIPANTAU_API_URL=api_url.rstrip("/"))


@dataclass
class UiProcess:
    """The Streamlit app in a child process; `stop` ends it (SIGTERM, then SIGKILL)."""

    proc: subprocess.Popen[bytes]

    @classmethod
    def start(cls, api_url: str, host: str, port: int) -> UiProcess:
        proc = subprocess.Popen(ui_command(host, port), env=ui_env(api_url))
        log.info("review UI (pid %d) on http://%s:%d/ using %s", proc.pid, host, port, api_url)
        return cls(proc)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_ui(api_url: str, host: str, port: int) -> int:
    """`sipantau ui`: the app alone, in the foreground (this process becomes Streamlit)."""
    cmd = ui_command(host, port)
    os.execve(cmd[0], cmd, ui_env(api_url))
    return 0  # not reached
