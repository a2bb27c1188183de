"""Real servers on loopback for the stress bench: PostgreSQL, Redis, the API and reading workers,
each one started, killed and restarted by the bench itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from sipantau.bench import procs
from sipantau.bench.pg import PgCluster, start_cluster
from sipantau.bench.redis_server import RedisServer, start_redis

HOST = "127.0.0.1"


@dataclass
class Stack:
    """PostgreSQL (+ Redis for Celery), one API process and N worker processes, restarted
    here as a supervisor (systemd, Kubernetes) would restart them."""

    root: Path
    backend: str  # "db" | "celery"
    workers: int
    job_lease_s: float = 30.0  # how soon a killed worker's job is taken again
    pg: PgCluster | None = None
    redis: RedisServer | None = None
    db_url: str = ""
    port: int = 0
    api: subprocess.Popen[bytes] | None = None
    procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=lambda: {"worker": 0, "api": 0})
    _stopping: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def admin_token(self) -> str:
        """A bearer token for the demo admin (its password is in the demo credentials file)."""
        creds = json.loads((self.data / "demo-credentials.json").read_text(encoding="utf-8"))
        admin = next(u for u in creds["users"] if u["username"] == "admin")
        r = httpx.post(
            f"{self.base}/api/v1/auth/login",
            json={"username": "admin", "password": admin["password"]},
            timeout=60,
        )
        r.raise_for_status()
        return str(r.json()["token"])

    def env(self) -> dict[str, str]:
        env = dict(
            os.environ,
            SIPANTAU_DATA_DIR=str(self.data),
            SIPANTAU_DATABASE_URL=self.db_url,
            SIPANTAU_JOB_BACKEND=self.backend,
            SIPANTAU_JOB_LEASE_S=str(self.job_lease_s),
        )
        if self.redis is not None:
            env["SIPANTAU_BROKER_URL"] = self.redis.url
        return env

    def start(self) -> Stack:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pg = start_cluster(durable=True)  # a crash must keep acknowledged commits
        self.db_url = self.pg.create_database("stress")
        if self.backend == "celery":
            self.redis = start_redis()
        self.port = procs.free_port()
        self.start_api(first=True)
        self.procs = [None] * self.workers
        for slot in range(self.workers):
            self._start_worker(slot)
        threading.Thread(target=self._watch, daemon=True, name="supervisor").start()
        return self

    def _log(self, name: str) -> BinaryIO:
        return (self.root / f"{name}.log").open("ab")

    def start_api(self, first: bool = False) -> None:
        """`sipantau serve` with no workers of its own: the API only (demo election on first)."""
        cmd = [*procs.CLI, "serve", "--data", str(self.data), "--host", HOST]
        cmd += ["--port", str(self.port), "--workers", "0", "--no-ui", "--demo", "--no-samples"]
        cmd += ["--database-url", self.db_url]
        with self._log("api") as out:
            self.api = subprocess.Popen(
                cmd, env=self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_api(240 if first else 60)

    def wait_api(self, timeout: float) -> None:
        try:
            procs.wait_http(f"{self.base}/api/v1/health", timeout, self.api, interval_s=0.2)
        except procs.NotAnswering as exc:
            raise RuntimeError(f"the API: {exc}; see {self.root}/api.log") from exc

    def restart_api(self, down_s: float = 1.0) -> None:
        """SIGKILL the API mid-request, as a crash, and start it again on the same port."""
        procs.stop(self.api, signal.SIGKILL)
        time.sleep(down_s)
        self.restarts["api"] += 1
        self.start_api()

    def _start_worker(self, slot: int) -> None:
        with self._log(f"worker-{slot}") as out:
            self.procs[slot] = subprocess.Popen(
                [sys.executable, "-m", "sipantau.api.infra.worker"],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill_worker(self, slot: int = 0) -> None:
        """SIGKILL one worker (its process group) mid-job; the supervisor restarts it."""
        procs.stop(self.procs[slot], signal.SIGKILL)

    def _watch(self) -> None:
        while not self._stopping:
            with self._lock:
                for slot, proc in enumerate(self.procs):
                    if proc is not None and proc.poll() is not None and not self._stopping:
                        self.restarts["worker"] += 1
                        time.sleep(0.5)
                        self._start_worker(slot)
            time.sleep(0.3)

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            for proc in self.procs:
                procs.stop(proc)
        procs.stop(self.api)
        if self.redis is not None:
            self.redis.stop()
        if self.pg is not None:
            self.pg.stop()
