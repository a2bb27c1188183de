"""One clock for every posko screen: instants from the API shown in WIB (Asia/Jakarta).

The API speaks ISO-8601 in UTC; people at the posko read WIB. Every page formats a time
through `wib_text`, so the queue, history, dashboard, incidents and gap read alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")
FORMAT = "%d-%m-%Y %H:%M WIB"


def to_wib(at: str | datetime) -> datetime:
    """An ISO-8601 instant (or an aware datetime; naive means UTC) as a naive WIB time."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(WIB).replace(tzinfo=None)


def wib_text(at: str | datetime | None) -> str:
    """`"2024-11-27T07:05:00+00:00"` -> `"27-11-2024 14:05 WIB"`; nothing -> `"-"`."""
    if at is None or at == "":
        return "-"
    return to_wib(at).strftime(FORMAT)


def now_text() -> str:
    """The current time in the same format."""
    return wib_text(datetime.now(UTC))
