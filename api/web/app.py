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
from sipantau.api.web import errors
from sipantau.api.web.errors import error
from sipantau.api.web.routes import admin, auth, ops, reports, results, review, submissions

STATIC = Path(__file__).parent.parent / "static"
PREFIX = "/api/v1"


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
                    raise TooLarge("kiriman terlalu besar")
            return message

        try:
            await self.app(scope, counted, send)
        except TooLarge:
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

    errors.install(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith(PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    for module in (auth, submissions, review, results, reports, admin):
        app.include_router(module.router, prefix=PREFIX)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/m/", include_in_schema=False)
    def monitor_page() -> Any:
        return FileResponse(STATIC / "monitor.html", media_type="text/html")

    @app.get("/", include_in_schema=False)
    def root() -> Any:
        return RedirectResponse("/m/")

    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 1_000_000)
    ops.install(app)  # health, ready, /metrics; request log + metrics middleware outermost
    return app
