"""A real S3-compatible server for tests and benchmarks: moto's, in a subprocess, on loopback.

`S3Server(tmp).start()` runs `python -m moto.server` (installed with `moto[server]`), waits
until it answers HTTP, and hands out the pieces a test needs: `endpoint_url`, a raw boto3
client (to go behind a store's back), an `S3PhotoStore` on a bucket, and the `SIPANTAU_*`
variables that point `sipantau serve` at it. Its state lives in memory: `stop` forgets it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from sipantau.api.infra.storage_s3 import S3PhotoStore
from sipantau.bench import procs

ACCESS_KEY = "sipantau-test"
SECRET_KEY = "sipantau-test-secret"
REGION = "us-east-1"


class S3Server:
    """moto's S3 server on 127.0.0.1:`port`, its log in `tmp/moto.log`."""

    def __init__(self, tmp: Path, port: int | None = None) -> None:
        self.tmp = tmp
        self.port = port or procs.free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "moto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> S3Server:
        """Launch and wait until it answers; RuntimeError with the log tail otherwise."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            procs.wait_http(f"{self.endpoint_url}/moto-api/", timeout_s, self._proc, status=None)
        except procs.NotAnswering as exc:
            self.stop()
            raise RuntimeError(self._failure(str(exc))) from exc
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call twice."""
        proc, self._proc = self._proc, None
        procs.stop(proc, wait_s=5)

    def client(self) -> Any:
        """A plain boto3 S3 client on this server (not through any store)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(region_name=REGION, s3={"addressing_style": "path"}),
        )

    def store(self, bucket: str, **kwargs: Any) -> S3PhotoStore:
        """An S3PhotoStore on `bucket` of this server; `kwargs` go to its constructor."""
        return S3PhotoStore(
            bucket,
            endpoint_url=self.endpoint_url,
            region=REGION,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            **kwargs,
        )

    def env(self, bucket: str) -> dict[str, str]:
        """The variables that make `sipantau serve` (API and workers) use `bucket` here."""
        return {
            "SIPANTAU_PHOTO_STORE": "s3",
            "SIPANTAU_S3_ENDPOINT_URL": self.endpoint_url,
            "SIPANTAU_S3_BUCKET": bucket,
            "SIPANTAU_S3_REGION": REGION,
            "SIPANTAU_S3_ACCESS_KEY": ACCESS_KEY,
            "SIPANTAU_S3_SECRET_KEY": SECRET_KEY,
        }

    def _failure(self, what: str) -> str:
        try:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            tail = "(no log)"
        return f"moto S3 server {what} (port {self.port})\n{tail}"

    def __enter__(self) -> S3Server:
        return self.start() if self._proc is None else self

    def __exit__(self, *_: object) -> None:
        self.stop()
