"""Bounds on numbers in paths and queries, so that an id or offset out of the database's range
is a 422, never an overflow inside the driver (a 500): row ids are `Integer` columns (32-bit on
PostgreSQL), offsets 64-bit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**31 - 1
MAX_OFFSET = 2**63 - 1
SubId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
