"""Whose address a request comes from, for counting login attempts.

Believed, in this order: the posko's screens naming their browser's address (only with the
shared secret), the nearest untrusted hop of `X-Forwarded-For` (only when the peer is a
configured proxy), else the TCP peer itself. A client's own headers are never believed.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from starlette.requests import Request

from sipantau.api.infra.settings import IPNetwork, ServiceSettings

log = logging.getLogger("sipantau.api")
UI_SECRET_HEADER = "x-sipantau-ui-secret"
UI_ADDRESS_HEADER = "x-sipantau-client-address"


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, proxies: tuple[IPNetwork, ...]) -> bool:
    ip = _ip(text)
    return ip is not None and any(ip in net for net in proxies)


def forwarded_for(peer: str, header: str, proxies: tuple[IPNetwork, ...]) -> str:
    """The first hop, from the right, that is not a trusted proxy (the peer if it is not one)."""
    if not _trusted(peer, proxies):
        return peer
    for hop in reversed([h.strip() for h in header.split(",") if h.strip()]):
        if _ip(hop) is None:
            return peer  # a mangled chain: believe only what we saw
        if not _trusted(hop, proxies):
            return hop
    return peer


def from_ui(request: Request, settings: ServiceSettings) -> str | None:
    """The browser address the posko's screens vouch for, when they carry the shared secret."""
    said = request.headers.get(UI_SECRET_HEADER)
    if said is None or settings.ui_secret is None:
        return None
    if not hmac.compare_digest(said.encode(), settings.ui_secret.get_secret_value().encode()):
        log.warning("a request carried a wrong UI secret; its address header is ignored")
        return None
    ip = _ip(request.headers.get(UI_ADDRESS_HEADER, ""))
    return str(ip) if ip is not None else None


def client_address(request: Request, settings: ServiceSettings) -> str:
    peer = request.client.host if request.client else "?"
    vouched = from_ui(request, settings)
    if vouched is not None:
        return vouched
    return forwarded_for(peer, request.headers.get("x-forwarded-for", ""), settings.proxy_networks)
