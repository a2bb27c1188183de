"""`sipantau serve`: migrate, start reading workers (restarted if they die), run the API."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sipantau.api.infra.settings import ServiceSettings

log = logging.getLogger("sipantau.serve")


@dataclass
class Workers:
    """N worker processes, each restarted when it dies, until `stop`."""

    count: int
    env: dict[str, str]
    run_dir: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: bool = False

    def _start(self, slot: int) -> None:
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
        for slot in range(self.count):
            self._start(slot)
        threading.Thread(target=self._watch, daemon=True, name="workers").start()

    def _watch(self) -> None:
        while not self.stopping:
            for slot, proc in list(self.procs.items()):
                if proc.poll() is not None and not self.stopping:
                    log.warning(
                        "worker %d (pid %d) exited %s; restarting", slot, proc.pid, proc.returncode
                    )
                    self._start(slot)
            time.sleep(0.5)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


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
    with the rest."""
    import uvicorn

    from sipantau.api.infra.context import Context
    from sipantau.api.infra.db import migrate
    from sipantau.api.infra.logs import setup_logging
    from sipantau.api.web.app import create_app

    setup_logging(settings.log_format)

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
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
    pool.start()
    if demo and samples:
        print(f"Foto contoh dikirim: {demo_data.submit_samples(ctx)} baru", flush=True)
    print(f"sipantau: http://{host}:{port}/m/ (pemantau), http://{host}:{port}/api/v1/docs")
    stop = pool.stop
    if ui_port is not None:
        from sipantau.review_ui.launch import UiProcess, api_url_for

        ui = UiProcess.start(api_url_for(host, port), host, ui_port)
        print(f"sipantau: http://{host}:{ui_port}/ (posko: pemeriksa, pimpinan)", flush=True)

        def stop() -> None:
            pool.stop()
            ui.stop()

    try:
        # uvicorn re-raises SIGTERM after its shutdown, so the workers are stopped from the
        # app's shutdown hook, which runs before that; `finally` covers a failed start.
        app = create_app(settings, stop)  # logs: ours (api/infra/logs.py), not uvicorn's
        uvicorn.run(app, host=host, port=port, log_level="info", log_config=None, access_log=False)
    finally:
        stop()
    return 0
