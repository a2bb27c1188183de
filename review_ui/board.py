"""Helpers shared by the leadership pages: a short-lived per-tab cache of API reads, the race.

Streamlit reruns a page on every click; the cache keeps those reruns from asking the API
again (its aggregate endpoints cost ~1 ms a TPS) until `ttl_s` has passed or the user asks.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from sipantau.review_ui import session
from sipantau.review_ui.client import ApiFailure

CACHE_KEY = "_board_cache"


def get(path: str, ttl_s: float = 30.0, **params: Any) -> Any:
    """`GET path?params` through this tab's cache; raises `ApiFailure` (never cached)."""
    cache: dict[tuple[Any, ...], tuple[float, Any]] = st.session_state.setdefault(CACHE_KEY, {})
    key = (path, tuple(sorted((k, str(v)) for k, v in params.items() if v is not None)))
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < ttl_s:
        return hit[1]
    value = session.api().get(path, **params)
    cache[key] = (now, value)
    return value


def forget() -> None:
    """Drop every cached read of this tab: the next `get` asks the API again."""
    st.session_state.pop(CACHE_KEY, None)


def election() -> dict[str, Any] | None:
    """`GET /election` (kept an hour), or `None` after showing why it failed."""
    try:
        return get("/election", ttl_s=3600.0)
    except ApiFailure as exc:
        session.show_failure(exc)
        return None


def race_picker(key: str) -> tuple[str, list[str]] | None:
    """A race selector; the chosen race id and its paslon names, or `None` if none."""
    info = election()
    if info is None:
        return None
    races = {r["id"]: r for r in info.get("races", [])}
    if not races:
        st.info("Belum ada pemilihan yang diimpor.")
        return None
    race = st.selectbox("Pemilihan", list(races), format_func=lambda r: races[r]["name"], key=key)
    return race, list(races[race].get("paslon", []))


def try_get(path: str, what: str, ttl_s: float = 30.0, **params: Any) -> Any | None:
    """`get`, or `None` after saying, where the section would be, that `what` failed and why."""
    try:
        return get(path, ttl_s, **params)
    except ApiFailure as exc:
        fail(what, exc)
        return None


def fail(what: str, exc: ApiFailure) -> None:
    """The API's refusal with what it was about; an expired login goes back to the login."""
    if exc.status == 401:
        session.show_failure(exc)
    else:
        st.error(f"{what}: {exc.message}")
