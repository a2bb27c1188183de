"""Accounts and logins: argon2 password hashes, expiring bearer tokens, rate-limited failures."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sipantau.api.domain import throttle
from sipantau.api.domain.errors import TooManyAttempts, Unauthenticated
from sipantau.api.infra.models import AuthSession, LoginFailure, User, UserTps, utcnow
from sipantau.api.infra.settings import ServiceSettings

ROLES = ("monitor", "reviewer", "leadership", "admin")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("sipantau-dummy-password")


@dataclass(frozen=True)
class Principal:
    """The logged-in user, as the routes see them."""

    id: int
    username: str
    role: str
    name: str = ""
    tps: frozenset[str] = field(default_factory=frozenset)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def too_many_attempts(wait: int) -> TooManyAttempts:
    return TooManyAttempts(
        f"terlalu banyak percobaan masuk; coba lagi dalam {max(1, round(wait / 60))} menit",
        retry_after=wait,
    )


def login(
    sessions: sessionmaker[Session],
    settings: ServiceSettings,
    username: str,
    password: str,
    ip: str,
) -> tuple[str, datetime, Principal]:
    """A new token for valid credentials; 401 otherwise (recorded), 429 past the limits.

    The attempt is counted (committed) before the password is checked, so parallel guesses
    cannot all pass the limit; a success takes it back (`throttle.forget`).
    """
    username = username.strip().lower()[:64]
    ip = ip[:64]
    with sessions() as session, session.begin():
        wait = throttle.count_attempt(session, settings, username, ip)
        user = None if wait else session.scalar(select(User).where(User.username == username))
    if wait:
        raise too_many_attempts(wait)
    # The hash check (~0.1 s of CPU) runs outside any transaction: on SQLite a transaction
    # here would hold the write lock, and every upload and worker would wait behind it.
    ok = check_password(user.password_hash if user else _DUMMY_HASH, password)
    with sessions() as session, session.begin():
        if ok and user is not None and user.active:
            token = secrets.token_urlsafe(32)
            expires = utcnow() + timedelta(seconds=settings.token_ttl_s)
            session.add(
                AuthSession(token_hash=token_hash(token), user_id=user.id, expires_at=expires)
            )
            throttle.forget(session, settings, username, ip)
            return token, expires, principal_of(session, user)
        session.add(LoginFailure(username=username, ip=ip))
    raise Unauthenticated("nama pengguna atau kata sandi salah", code="login_failed")


def principal_for_token(session: Session, token: str) -> Principal | None:
    row = session.get(AuthSession, token_hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return principal_of(session, user)


def principal_of(session: Session, user: User) -> Principal:
    tps = session.scalars(select(UserTps.tps_code).where(UserTps.user_id == user.id)).all()
    return Principal(user.id, user.username, user.role, user.name, frozenset(tps))


def logout(session: Session, token: str) -> None:
    row = session.get(AuthSession, token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_sessions(session: Session, user_id: int, keep: str | None = None) -> int:
    """End every live session of a user (all but the token `keep`); how many were ended."""
    q = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        q = q.where(AuthSession.token_hash != token_hash(keep))
    result = session.execute(q.values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)  # an UPDATE's CursorResult
