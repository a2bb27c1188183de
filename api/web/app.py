"""The FastAPI application: `/api/v1`, the monitor page at `/m/`, errors in one shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sipantau.api.domain.errors import TooLarge
from sipantau.api.infra.context import Context
from sipantau.api.infra.logs import setup_logging
from sipantau.api.infra.settings import ServiceSettings
from sipantau.api.web import errors, headers
from sipantau.api.web.errors import error
from sipantau.api.web.routes import admin, auth, ops, reports, results, review, submissions

STATIC = Path(__file__).parent.parent / "static"
PREFIX = "/api/v1"
FRESH = {"Cache-Control": "no-cache"}  # the page's files: revalidated, so a fix reaches phones


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
        seen, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise TooLarge("kiriman terlalu besar")
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:  # the app's own answer to the cut body (e.g. a 400 from the form parser)
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not started:
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
        docs_url=None,  # served below, with its own Content-Security-Policy
        redoc_url=None,
    )
    app.state.ctx = Context.create(settings)

    errors.install(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        return await headers.security_headers(request, call_next, PREFIX)

    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    def docs() -> Any:
        return headers.docs_page(f"{PREFIX}/openapi.json", app.title)

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
