"""Creating and changing accounts, shared by the admin API and `sipantau users`."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sipantau.api.domain import throttle
from sipantau.api.domain.auth import (
    ROLES,
    Principal,
    check_password,
    hash_password,
    revoke_sessions,
    too_many_attempts,
)
from sipantau.api.domain.errors import Forbidden, conflict, invalid
from sipantau.api.infra.context import Context
from sipantau.api.infra.models import Event, LoginFailure, Tps, User, UserTps


def set_tps(session: Session, user_id: int, codes: list[str]) -> None:
    """The TPS a monitor reports for (replaces the old list)."""
    known = set(session.scalars(select(Tps.code).where(Tps.code.in_(codes))))
    unknown = sorted(set(codes) - known)
    if unknown:
        raise invalid(f"TPS tidak dikenal: {', '.join(unknown[:5])}")
    session.execute(delete(UserTps).where(UserTps.user_id == user_id))
    for code in sorted(set(codes)):
        session.add(UserTps(user_id=user_id, tps_code=code))


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    name: str = "",
    tps: list[str] | None = None,
    actor: int | None = None,
) -> User:
    if role not in ROLES:
        raise invalid(f"peran harus salah satu dari {list(ROLES)}")
    if len(password) < 8:
        raise invalid("kata sandi minimal 8 karakter")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise conflict(f"pengguna {username} sudah ada")
    row = User(username=username, name=name, role=role, password_hash=hash_password(password))
    session.add(row)
    session.flush()
    set_tps(session, row.id, tps or [])
    session.add(Event(actor_id=actor, kind="user_created", detail={"username": username}))
    return row


def reset(session: Session, row: User, password: str | None, active: bool | None) -> None:
    """An admin's reset or (de)activation: a new password or a deactivation ends every
    session of the account (a reactivated account does not get its old sessions back)."""
    if password is not None:
        row.password_hash = hash_password(password)
    if active is not None:
        row.active = active
    if password is not None or active is False:
        revoke_sessions(session, row.id)


def change_own_password(
    ctx: Context, user: Principal, current: str, new: str, keep_token: str, address: str
) -> None:
    """A user's own change: the current password is checked (and its guesses throttled like
    logins); the account's other sessions end, this one stays."""
    if len(new) < 8:
        raise invalid("kata sandi baru minimal 8 karakter")
    with ctx.sessions() as session, session.begin():
        wait = throttle.count_attempt(session, ctx.settings, user.username, address)
        row = session.get(User, user.id)
    if wait:
        raise too_many_attempts(wait)
    if row is None or not check_password(row.password_hash, current):
        with ctx.sessions() as session, session.begin():
            session.add(LoginFailure(username=user.username, ip=address[:64]))
        raise Forbidden("kata sandi lama salah", code="wrong_password")
    if current == new:
        raise invalid("kata sandi baru harus berbeda dari yang lama")
    new_hash = hash_password(new)  # outside the transaction: ~0.1 s of CPU
    with ctx.sessions() as session, session.begin():
        stored = session.get(User, user.id)
        assert stored is not None
        stored.password_hash = new_hash
        revoke_sessions(session, user.id, keep=keep_token)
        throttle.forget(session, ctx.settings, user.username, address)
        session.add(Event(actor_id=user.id, kind="password_changed", detail={}))
