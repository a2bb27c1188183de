"""`sipantau serve`: check the ports, migrate, start reading workers (restarted if they die,
never while stopping), run the API; SIGTERM at any moment stops every child it started."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from sipantau.api.infra.settings import ServiceSettings

log = logging.getLogger("sipantau.serve")


class PortTaken(Exception):
    """The port `serve` was told to use is in use; nothing has been started."""


class Stopped(BaseException):
    """SIGTERM/SIGINT before (or after) uvicorn handles it: unwind, stopping what was started."""


@dataclass
class Workers:
    """N worker processes, each restarted when it dies, until `halt` or `stop`."""

    count: int
    env: dict[str, str]
    run_dir: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: bool = False
    stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _start(self, slot: int) -> None:  # with the lock held
        pid_file = self.run_dir / f"{slot}.pid"
        pid_file.unlink(missing_ok=True)
        env = dict(self.env, SIPANTAU_WORKER_PID_FILE=str(pid_file))
        self.procs[slot] = subprocess.Popen(
            [sys.executable, "-m", "sipantau.api.infra.worker"], env=env
        )

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.run_dir.glob("*.pid"):
            stale.unlink()
        with self._lock:
            for slot in range(self.count):
                if not self.stopping:
                    self._start(slot)
        threading.Thread(target=self._watch, daemon=True, name="workers").start()

    def _watch(self) -> None:
        while True:
            with self._lock:  # `halt` cannot slip between the check and a restart
                if self.stopping:
                    return
                for slot, proc in list(self.procs.items()):
                    if proc.poll() is not None:
                        log.warning(
                            "worker %d (pid %d) exited %s; restarting",
                            slot,
                            proc.pid,
                            proc.returncode,
                        )
                        self._start(slot)
            time.sleep(0.5)

    def halt(self) -> None:
        """Restart no worker from now on (the first thing a stop signal does)."""
        with self._lock:
            self.stopping = True

    def stop(self) -> None:
        """SIGTERM every worker, wait up to 15 s, then SIGKILL the rest."""
        with self._lock:
            if self.stopped:
                return
            self.stopping = self.stopped = True
            procs = list(self.procs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d still running 15 s after SIGTERM; killed", proc.pid)
                proc.kill()


def with_ui_secret(settings: ServiceSettings) -> ServiceSettings:
    """The secret the posko's screens prove themselves with: the configured one, or a new one
    for this run; the UI process gets it through its environment."""
    if settings.ui_secret is None:
        settings = settings.model_copy(update={"ui_secret": SecretStr(secrets.token_urlsafe(32))})
    assert settings.ui_secret is not None
    os.environ["SIPANTAU_UI_SECRET"] = settings.ui_secret.get_secret_value()
    return settings


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, as uvicorn would open it; PortTaken when in use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise PortTaken(
            f"port {port} di {host} sudah dipakai atau tidak dapat dibuka ({exc.strerror}); "
            "hentikan program yang memakainya atau pilih port lain"
        ) from exc
    return sock


def _check_free(host: str, port: int) -> None:
    bind(host, port).close()


@dataclass
class _Deferral:
    """A stop signal while children are being started waits until they are in `stops` (a
    blocked signal mask would be inherited by the children, which then ignore SIGTERM)."""

    holding: bool = False
    pending: bool = False

    @contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending:
            raise Stopped


_deferral = _Deferral()


def _on_stop_signal(*_: Any) -> None:
    if _deferral.holding:
        _deferral.pending = True
        return
    raise Stopped


def serve(
    settings: ServiceSettings,
    host: str,
    port: int,
    workers: int,
    demo: bool,
    samples: bool,
    ui_port: int | None = None,
) -> int:
    """Run until SIGTERM; `ui_port` also starts the review UI (Streamlit) there, stopped
    with the rest. Both ports are checked before anything else happens (exit code 2)."""
    try:
        sock = bind(host, port)
        if ui_port is not None:
            _check_free(host, ui_port)
    except PortTaken as exc:
        print(f"sipantau serve: {exc}", file=sys.stderr, flush=True)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_stop_signal)
    stops: list[Callable[[], None]] = []
    try:
        _run(settings, sock, host, port, workers, demo, samples, ui_port, stops)
    except Stopped:
        log.info("stop signal: stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the stop short
        for stop in stops:
            stop()
        sock.close()
    return 0


def _run(
    settings: ServiceSettings,
    sock: socket.socket,
    host: str,
    port: int,
    workers: int,
    demo: bool,
    samples: bool,
    ui_port: int | None,
    stops: list[Callable[[], None]],
) -> None:
    import uvicorn

    from sipantau.api.infra.context import Context
    from sipantau.api.infra.db import migrate
    from sipantau.api.infra.logs import setup_logging
    from sipantau.api.web.app import create_app

    setup_logging(settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    if ui_port is not None:
        settings = with_ui_secret(settings)
    migrate(settings.db_url)
    ctx = Context.create(settings)
    from sipantau.api.domain import demo as demo_data

    if demo:
        creds, path = demo_data.setup(ctx), demo_data.credentials_path(ctx)
        if creds is not None:
            print(demo_data.describe(creds, path), flush=True)
        else:
            print(f"Akun demo sudah ada: lihat {path}")
    env = dict(
        os.environ,
        SIPANTAU_DATA_DIR=str(settings.data_dir),
        SIPANTAU_DATABASE_URL=settings.db_url,
    )
    pool = Workers(workers, env, settings.run_dir / "workers")
    with _deferral.held():  # a stop signal now waits until `stops` can stop what started
        pool.start()
        stops.append(pool.stop)
    if demo and samples:
        print(f"Foto contoh dikirim: {demo_data.submit_samples(ctx)} baru", flush=True)
    print(f"sipantau: http://{host}:{port}/m/ (pemantau), http://{host}:{port}/api/v1/docs")
    if ui_port is not None:
        from sipantau.review_ui.launch import UiProcess, api_url_for

        with _deferral.held():
            ui = UiProcess.start(api_url_for(host, port), host, ui_port)
            stops.append(ui.stop)
        print(f"sipantau: http://{host}:{ui_port}/ (posko: pemeriksa, pimpinan)", flush=True)

    def stop_all() -> None:
        for stop in stops:
            stop()

    # uvicorn re-raises SIGTERM after its shutdown, so the workers are stopped from the
    # app's shutdown hook, which runs before that; `serve`'s `finally` covers a failed start.
    app = create_app(settings, stop_all)  # logs: ours (api/infra/logs.py), not uvicorn's
    # proxy_headers off: X-Forwarded-For is believed only from SIPANTAU_TRUSTED_PROXIES,
    # by the API itself (api/web/client_address.py), never from whoever sends it
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        forwarded_allow_ips="",
    )
    _server(config, pool.halt).run(sockets=[sock])


def _server(config: Any, on_signal: Callable[[], None]) -> Any:
    """uvicorn's server, which first tells the pool to restart no worker on a stop signal
    (its graceful shutdown can wait long for open requests, while workers may already exit)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            on_signal()
            super().handle_exit(sig, frame)

    return Server(config)
