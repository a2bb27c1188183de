"""Who is logged in on this browser tab (Streamlit session state) and their API handle."""

from __future__ import annotations

from typing import Any

import httpx
import streamlit as st

from sipantau.review_ui.client import Api, ApiFailure, make_http

ROLE_LABELS = {
    "reviewer": "Pemeriksa",
    "leadership": "Pimpinan",
    "admin": "Admin",
    "monitor": "Pemantau",
}


@st.cache_resource
def _http() -> httpx.Client:
    """One connection pool for every session of this Streamlit process."""
    return make_http()


def api() -> Api:
    """The API handle for this tab, carrying its token when logged in."""
    return Api(_http(), st.session_state.get("token"))


def current_user() -> dict[str, Any] | None:
    return st.session_state.get("user")


def log_in(username: str, password: str) -> None:
    """Log in through the API; raises `ApiFailure` with a message to show."""
    body = api().login(username, password)
    if body["user"]["role"] == "monitor":
        raise ApiFailure(403, "forbidden", "akun pemantau memakai halaman /m/ di ponsel")
    st.session_state["token"] = body["token"]
    st.session_state["user"] = body["user"]


def log_out() -> None:
    try:
        api().request("POST", "/auth/logout")
    except ApiFailure:
        pass  # an expired token is logged out already
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def show_failure(exc: ApiFailure) -> None:
    """An API refusal as a message; an expired session sends the user back to log in."""
    if exc.status == 401 and st.session_state.get("token"):
        for key in ("token", "user"):
            st.session_state.pop(key, None)
        st.warning("Sesi berakhir. Silakan masuk lagi.")
    else:
        st.error(exc.message)
