"""Bounds on numbers in paths and queries: a row id fits a signed 64-bit column, or it is a
422 (never an overflow inside the database driver, a 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1
SubId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
