"""Operations: liveness, readiness (database, photo store, broker), `/metrics`, request logs.

`/api/v1/health` does no I/O: the process answers. `/api/v1/ready` checks what a request
needs, each check in its own thread with a deadline, so a hung database or broker makes it
answer 503 in seconds rather than hang. `/metrics` needs no token: it holds counts only, no
votes, names or TPS codes; keep it off the public proxy (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sipantau.api.infra.context import Context
from sipantau.api.infra.logs import log_context
from sipantau.api.infra.metrics import HttpMetrics, build_registry
from sipantau.api.infra.metrics_db import connect
from sipantau.api.web.deps import Ctx
from sipantau.api.web.schemas.base import answers
from sipantau.api.web.schemas.results import HealthOut, ReadyOut

router = APIRouter(tags=["ops"])
access = logging.getLogger("sipantau.access")
API = "/api/v1"
UPLOAD_PATH = f"{API}/submissions"
CHECK_TIMEOUT_S = 3.0
QUIET = {f"{API}/health", f"{API}/ready", "/metrics"}  # probes and scrapes: logged at DEBUG
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


class CheckFailed(Exception):
    """A readiness check's failure, with the message an operator reads in the 503."""

    code = "not_ready"


@router.get(f"{API}/health", **answers(HealthOut))
def health() -> dict[str, str]:
    """Liveness: the process answers (no I/O)."""
    return {"status": "ok"}


@router.get(
    f"{API}/ready",
    responses={503: {"model": ReadyOut, "description": "a dependency does not answer"}},
    **answers(ReadyOut),
)
async def ready(request: Request, ctx: Ctx) -> Any:
    """Readiness: database migrated to head, photo store, and (Celery) the broker answer."""
    runner: Checks = request.app.state.checks
    checks: dict[str, Callable[[], str | None]] = {
        "database": lambda: check_database(ctx.settings.db_url)
    }
    checks["photo_store"] = lambda: check_store(ctx)
    if ctx.settings.job_backend == "celery":
        checks["broker"] = lambda: check_broker(ctx.settings.broker_url)
    names = list(checks)
    results = await asyncio.gather(*(runner.run(n, checks[n]) for n in names))
    out = dict(zip(names, results, strict=True))
    failing = [f"{n}: {r['message']}" for n, r in out.items() if not r["ok"]]
    if not failing:
        return {"status": "ready", "checks": out}
    body = {"status": "not_ready", "checks": out}
    body["error"] = {"code": "not_ready", "message": "layanan belum siap: " + "; ".join(failing)}
    return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format (plain `def`: the scrape-time database queries block)."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class Checks:
    """Runs readiness checks off the event loop; a check still running is awaited, not re-run."""

    def __init__(self, timeout_s: float = CHECK_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ready")
        self.running: dict[str, Future[str | None]] = {}

    async def run(self, name: str, check: Callable[[], str | None]) -> dict[str, Any]:
        t0 = time.perf_counter()
        future = self.running.get(name)
        if future is None or future.done():
            future = self.running[name] = self.pool.submit(check)
        try:
            note = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), self.timeout_s
            )
        except TimeoutError:
            message = f"tidak menjawab dalam {self.timeout_s:g} detik"
            return {"ok": False, "ms": _ms(t0), "message": message}
        except Exception as exc:  # every failure is reported, none escapes as a 500
            return {"ok": False, "ms": _ms(t0), "message": _describe(exc)}
        result: dict[str, Any] = {"ok": True, "ms": _ms(t0)}
        if note:
            result["note"] = note
        return result


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CheckFailed):
        return str(exc)
    message = getattr(exc, "message", None)  # a typed error (StoreError) already says it
    detail = " ".join(str(getattr(exc, "detail", None) or exc).split())[:300]
    if isinstance(message, str) and message:
        return f"{message} ({detail})"
    return f"tidak dapat dihubungi ({type(exc).__name__}: {detail})"


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sipantau.api.infra.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def check_database(url: str) -> None:
    """The database answers and its schema is at the newest migration."""
    with connect(url) as conn:
        try:
            found = set(conn.scalars(text("SELECT version_num FROM alembic_version")))
        except Exception as exc:
            raise CheckFailed(
                "basis data belum dimigrasi (tabel alembic_version tidak ada)"
            ) from exc
    if found != migration_heads():
        raise CheckFailed(
            f"skema basis data di versi {sorted(found) or 'kosong'}, seharusnya "
            f"{sorted(migration_heads())}: jalankan migrasi (`sipantau serve` melakukannya)"
        )


def check_store(ctx: Context) -> str | None:
    """The photo store's own check, where it has one (`store.check()`; raises or False)."""
    check = getattr(ctx.store, "check", None)
    if not callable(check):
        return "penyimpanan ini tidak punya pemeriksaan"
    if check() is False:
        raise CheckFailed("penyimpanan foto menolak pemeriksaan")
    return None


def check_broker(url: str) -> None:
    """The broker answers: Redis PING, or for another scheme a TCP connection."""
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
        pass


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            candidate = value.decode("latin-1")
            if REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex[:16]


def _route_of(scope: Scope) -> str:
    """The matched route's template with its router's prefix (`/api/v1/submissions/{sub_id}`).

    An included router's route knows only its own part; the prefix is what of the request
    path comes before that part filled with the path parameters.
    """
    template = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str):
        return "unmatched"
    params = scope.get("path_params") or {}
    filled = PARAM.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)
    path = scope["path"]
    return path[: -len(filled)] + template if filled and path.endswith(filled) else template


class ObserveRequests:
    """Outermost middleware: request id, one access log line, HTTP and upload metrics."""

    def __init__(self, app: ASGIApp, http: HttpMetrics) -> None:
        self.app, self.http = app, http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid, t0, status = _request_id(scope), time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        with log_context(request_id=rid):
            try:
                await self.app(scope, receive, sending)
            finally:
                self._record(scope, status, time.perf_counter() - t0)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method, path = scope["method"], scope["path"]
        label = method if method in METHODS else "OTHER"
        route = _route_of(scope)
        self.http.observe(label, route, status, seconds)
        if method == "POST" and path.rstrip("/") == UPLOAD_PATH:
            self.http.upload(status)
        level = logging.DEBUG if path in QUIET else logging.INFO
        if status >= 500:
            level = logging.ERROR
        client = scope.get("client")
        ms = round(seconds * 1000, 1)
        access.log(
            level,
            "%s %s %d %.1f ms",
            method,
            path,
            status,
            ms,
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "ms": ms,
                "client": client[0] if client else None,
            },
        )


def install(app: FastAPI) -> None:
    """Add the ops routes, metrics and request middleware (call last: it must be outermost)."""
    ctx: Context = app.state.ctx
    registry, http = build_registry(ctx.settings.db_url)
    app.state.metrics_registry, app.state.checks = registry, Checks()
    app.include_router(router)
    app.add_middleware(ObserveRequests, http=http)
