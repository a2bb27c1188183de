"""Security headers on every answer: a Content-Security-Policy the monitor page lives within,
and a looser one for the API docs page (Swagger UI from its CDN, its inline start by hash)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

CDN = "https://cdn.jsdelivr.net"
# The monitor page: its own scripts, styles and API only; photo previews are blob: images.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_INLINE = re.compile(r"<script>(.*?)</script>", re.S)


def _hashes(html: str) -> str:
    digests = (hashlib.sha256(s.encode()).digest() for s in _INLINE.findall(html))
    return " ".join(f"'sha256-{base64.b64encode(d).decode()}'" for d in digests)


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """FastAPI's Swagger UI page, with a policy that lets exactly its scripts run."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title=f"{title} - Swagger UI")
    html = bytes(page.body).decode()
    policy = (
        f"default-src 'self'; script-src 'self' {CDN} {_hashes(html)}; "
        f"style-src 'self' {CDN} 'unsafe-inline'; img-src 'self' data: https:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


async def security_headers(request: Request, call_next: Any, api_prefix: str) -> Any:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.url.path.startswith(api_prefix):
        response.headers.setdefault("Cache-Control", "no-store")
    elif request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
    return response
