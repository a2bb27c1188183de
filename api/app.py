"""The FastAPI application: `/api/v1`, the monitor page at `/m/`, errors in one shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sipantau.api.context import Context
from sipantau.api.errors import ApiError
from sipantau.api.logs import setup_logging
from sipantau.api.routes import admin, auth, ops, reports, results, review, submissions
from sipantau.api.settings import ServiceSettings

log = logging.getLogger("sipantau.api")
STATIC = Path(__file__).with_name("static")
PREFIX = "/api/v1"
HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "not_allowed"}
FRESH = {"Cache-Control": "no-cache"}  # the page's files: revalidated, so a fix reaches phones


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


class BodyLimit:
    """Refuse a request body over `limit` bytes before it is read into memory (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        too_big = error(413, "payload_too_large", "kiriman terlalu besar")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await too_big(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, "payload_too_large", "kiriman terlalu besar")
            return message

        try:
            await self.app(scope, counted, send)
        except ApiError:
            await too_big(scope, receive, send)


def create_app(
    settings: ServiceSettings | None = None, on_shutdown: Callable[[], None] | None = None
) -> FastAPI:
    """The app; `on_shutdown` runs when the server stops (serve stops its workers there)."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_logging(settings.log_format)  # any launcher: after uvicorn set up its loggers
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="sipantau",
        version="1",
        description="Hitung cepat dari foto formulir C.HASIL-KWK dan blanko pemantauan",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.state.ctx = Context.create(settings)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Any:
        return error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Any:
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{where}: {e.get('msg', '')}")
        return error(422, "invalid_request", "permintaan tidak sah: " + "; ".join(parts))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = "tidak ditemukan" if exc.status_code == 404 else str(exc.detail)
        return error(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal", "terjadi kesalahan di server; coba lagi sebentar lagi")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith(PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
        elif request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-cache")
        return response

    for module in (auth, submissions, review, results, reports, admin):
        app.include_router(module.router, prefix=PREFIX)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/m/", include_in_schema=False)
    def monitor_page() -> Any:
        return FileResponse(STATIC / "monitor.html", media_type="text/html", headers=FRESH)

    @app.get("/m/sw.js", include_in_schema=False)
    def service_worker() -> Any:
        """Served from /m/ so that its scope is the monitor page; always revalidated."""
        headers = FRESH | {"Service-Worker-Allowed": "/m/"}
        return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers=headers)

    @app.get("/m/manifest.webmanifest", include_in_schema=False)
    def manifest() -> Any:
        return FileResponse(
            STATIC / "manifest.webmanifest", media_type="application/manifest+json", headers=FRESH
        )

    @app.get("/", include_in_schema=False)
    def root() -> Any:
        return RedirectResponse("/m/")

    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 1_000_000)
    ops.install(app)  # health, ready, /metrics; request log + metrics middleware outermost
    return app
