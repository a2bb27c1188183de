"""Creating and changing accounts, shared by the admin API and `sipantau users`."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sipantau.api.domain.auth import ROLES, hash_password
from sipantau.api.domain.errors import conflict, invalid
from sipantau.api.infra.models import Event, Tps, User, UserTps


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
