"""A throwaway redis-server: a temp dir, a free loopback port, no persistence.

Needs only Debian's `redis-server` (installed by `bash .ci/install`). Without persistence a
`restart` comes back empty, as a broker that crashed would: every message in it is lost.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sipantau.bench.procs import free_port

INSTALL_HINT = "redis-server not found on PATH: run `bash .ci/install`"


class RedisUnavailable(RuntimeError):
    """redis-server is missing, or would not start and answer."""


@dataclass
class RedisServer:
    """A running redis-server; `stop` and `start` again keep its port (and lose its data)."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    def start(self, timeout_s: float = 15.0) -> RedisServer:
        """Start on `port` and wait until it answers PING."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise RedisUnavailable(INSTALL_HINT)
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        args += ["--logfile", str(self.log_file), "--protected-mode", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.kill()
                raise RedisUnavailable(f"redis-server did not start: {err}\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        """True when the server answers PING on its port."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is saved. Safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def restart(self, down_s: float = 0.0) -> None:
        """Crash it, stay down `down_s`, start it again empty on the same port."""
        self.kill()
        time.sleep(down_s)
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        """Kill it and remove its folder."""
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no redis log)"


def start_redis() -> RedisServer:
    """A fresh redis-server on a free loopback port, stopped at exit at the latest."""
    if shutil.which("redis-server") is None:
        raise RedisUnavailable(INSTALL_HINT)
    server = RedisServer(Path(tempfile.mkdtemp(prefix="sipantau-redis-")), free_port())
    atexit.register(server.stop)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise
