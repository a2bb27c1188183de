"""The review UI's only door to data: the service's HTTP API, with the user's bearer token."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_API = "http://127.0.0.1:8000/api/v1"


def api_url() -> str:
    """Where the API lives: `SIPANTAU_API_URL`, else the local `sipantau serve` default."""
    return os.environ.get("SIPANTAU_API_URL", DEFAULT_API).rstrip("/")


class ApiFailure(Exception):
    """The API refused or could not be reached; `message` is for the person at the screen."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def browser_address() -> str | None:
    """The address of the browser this Streamlit session serves, when Streamlit knows it."""
    try:
        import streamlit as st

        return st.context.ip_address
    except Exception:  # outside a Streamlit session (scripts, tests): no browser
        return None


def vouch_headers() -> dict[str, str]:
    """With the secret shared with the API (`SIPANTAU_UI_SECRET`): the browser's address, so
    that login attempts are counted per person, not all on this server's address."""
    secret, address = os.environ.get("SIPANTAU_UI_SECRET"), browser_address()
    if not secret or not address:
        return {}
    return {"X-Sipantau-UI-Secret": secret, "X-Sipantau-Client-Address": address}


@dataclass
class Api:
    """Thin typed calls over one shared `httpx.Client`; `token` is the logged-in user's."""

    http: httpx.Client
    token: str | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | vouch_headers()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            r = self.http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.HTTPError as exc:
            raise ApiFailure(0, "unreachable", "server tidak dapat dihubungi; coba lagi") from exc
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                code, message = str(err["code"]), str(err["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "http_error", f"server menjawab {r.status_code}"
            raise ApiFailure(r.status_code, code, message)
        return r

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).json()

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        r = self.request("POST", path, json=json, **kwargs)
        return r.json() if r.status_code != 204 and r.content else None

    def raw(self, path: str) -> bytes:
        """Binary bodies: photos, crops, exports."""
        return self.request("GET", path).content

    def login(self, username: str, password: str) -> dict[str, Any]:
        body = self.post("/auth/login", {"username": username, "password": password})
        self.token = body["token"]
        return body


def make_http(base_url: str | None = None, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(base_url=base_url or api_url(), timeout=timeout)
