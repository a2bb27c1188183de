"""Servers in child processes, for benchmarks and tests: a free port, waiting until one answers
over HTTP, and stopping one with its whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

# `sipantau ...` in a child process, with this interpreter (no console script needed on PATH)
CLI = [sys.executable, "-c", "import sys; from sipantau.cli import main; sys.exit(main())"]


class NotAnswering(RuntimeError):
    """The server exited, or did not answer in time; the message says which."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    timeout_s: float,
    proc: subprocess.Popen[bytes] | None = None,
    status: int | None = 200,
    interval_s: float = 0.1,
) -> None:
    """Until GET `url` answers `status` (None: any answer); `NotAnswering` when `proc` exits
    first or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise NotAnswering(f"exited {proc.returncode} before {url} answered")
        try:
            r = httpx.get(url, timeout=2)
            if status is None or r.status_code == status:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise NotAnswering(f"no {status or 'answer'} from {url} in {timeout_s:g} s")
        time.sleep(interval_s)


def stop(
    proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, wait_s: float = 20
) -> None:
    """Send `sig` to the process group `proc` leads (started with `start_new_session`), wait,
    then SIGKILL the group when it will not go; safe on a process that is already gone."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass
