"""The one place errors become HTTP: each domain error kind gets its status, every error the
body `{"error": {"code", "message"}}` (docs/api.md)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sipantau.api.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Internal,
    Invalid,
    NotFound,
    TooLarge,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
    Unsupported,
)

log = logging.getLogger("sipantau.api")
STATUS: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Forbidden: 403,
    Unauthenticated: 401,
    Conflict: 409,
    TooLarge: 413,
    Unsupported: 415,
    TooManyAttempts: 429,
    Unavailable: 503,
    Internal: 500,
}
HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "not_allowed"}


def status_of(exc: DomainError) -> int:
    """The status of the nearest kind in the error's class tree (422 for a bare DomainError)."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 422


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def domain_error(exc: DomainError) -> Any:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return error(status_of(exc), exc.code, exc.message, headers)


def install(app: FastAPI) -> None:
    """Register the handlers: domain errors, bad requests, Starlette's HTTP errors, crashes."""

    @app.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> Any:
        return domain_error(exc)

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
