"""Login throttling: each attempt is counted in the database *before* the password is checked.

Two counters per attempt, each an atomic upsert (SQLite and PostgreSQL alike), so that 40
parallel guesses cannot all slip past a limit of 5: the account at this address, and the
address alone. Never the account alone: strangers' failures elsewhere cannot lock a user out.
A successful login takes its own attempt back (an office behind one address is not locked out
by its staff logging in).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sipantau.api.infra.models import LoginThrottle, utcnow
from sipantau.api.infra.settings import ServiceSettings


def keys(settings: ServiceSettings, username: str, address: str) -> list[tuple[str, int]]:
    """The counters one attempt moves, with their limits."""
    return [
        (f"ua:{address}|{username}"[:200], settings.login_max_failures_user),
        (f"a:{address}"[:200], settings.login_max_failures_ip),
    ]


def _bump(session: Session, key: str, now: datetime, window_s: int) -> tuple[int, datetime]:
    """Count one attempt on `key`; its attempts and window start after this one."""
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    stale = LoginThrottle.window_start <= now - timedelta(seconds=window_s)
    row = insert(LoginThrottle).values(key=key, window_start=now, attempts=1)
    stmt = row.on_conflict_do_update(
        index_elements=[LoginThrottle.key],
        set_={
            "attempts": case((stale, 1), else_=LoginThrottle.attempts + 1),
            "window_start": case((stale, now), else_=LoginThrottle.window_start),
        },
    ).returning(LoginThrottle.attempts, LoginThrottle.window_start)
    attempts, start = session.execute(stmt).one()
    return int(attempts), start


def count_attempt(session: Session, settings: ServiceSettings, username: str, address: str) -> int:
    """Count this attempt; the seconds to wait when a limit is passed, else 0."""
    now = utcnow()
    window = settings.login_window_s
    wait = 0
    for key, limit in keys(settings, username, address):
        attempts, start = _bump(session, key, now, window)
        if attempts > limit:
            left = (start + timedelta(seconds=window) - now).total_seconds()
            wait = max(wait, int(left) + 1)
    return wait


def forget(session: Session, settings: ServiceSettings, username: str, address: str) -> None:
    """After a successful login: this account's failures here are cleared, its attempt on the
    address taken back; long-expired counters are dropped."""
    (user_key, _), (address_key, _) = keys(settings, username, address)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == user_key))
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == address_key, LoginThrottle.attempts > 0)
        .values(attempts=LoginThrottle.attempts - 1)
    )
    expired = utcnow() - timedelta(seconds=settings.login_window_s)
    session.execute(delete(LoginThrottle).where(LoginThrottle.window_start < expired))
