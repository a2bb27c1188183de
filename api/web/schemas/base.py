"""What every response model shares."""

from __future__ import annotations

import os
from typing import Any, Literal

from fastapi import Response
from pydantic import BaseModel, ConfigDict

# The service tests run with SIPANTAU_CONTRACT=strict: a route that answers a key its model does
# not declare fails there. In production such a key passes through unchanged (never a 500).
EXTRA: Literal["forbid", "allow"] = (
    "forbid" if os.environ.get("SIPANTAU_CONTRACT") == "strict" else "allow"
)


class Out(BaseModel):
    """A response body; fields in the order the route writes them."""

    model_config = ConfigDict(extra=EXTRA)


class ItemsOut(Out):
    """A list answered as `{"items": [...]}`."""


def answers(model: type[Out]) -> dict[str, Any]:
    """A route's response settings: the model, and only the keys the route wrote (an optional
    key it leaves out stays out, not `null`)."""
    return {"response_model": model, "response_model_exclude_unset": True}


def binary(*media: str) -> dict[str, Any]:
    """A route that answers bytes (a photo, a crop, an export), not JSON."""
    return {
        "response_class": Response,
        "responses": {200: {"content": {m: {} for m in media}, "description": "the bytes"}},
    }
