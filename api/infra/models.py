"""Database tables (SQLAlchemy 2.0). Photos, readings, value versions and events are append-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class ElectionRow(Base):
    """The imported election (one row)."""

    __tablename__ = "election"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(200))
    date: Mapped[str] = mapped_column(String(20))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Race(Base):
    __tablename__ = "races"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    short: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    paslon: Mapped[list[str]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer)


class Kecamatan(Base):
    __tablename__ = "kecamatan"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Kelurahan(Base):
    __tablename__ = "kelurahan"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kecamatan_code: Mapped[str] = mapped_column(ForeignKey("kecamatan.code"), index=True)


class Tps(Base):
    __tablename__ = "tps"
    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    kelurahan_code: Mapped[str] = mapped_column(ForeignKey("kelurahan.code"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    dpt: Mapped[int] = mapped_column(Integer)
    special: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UserTps(Base):
    """The TPS a monitor reports for."""

    __tablename__ = "user_tps"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    tps_code: Mapped[str] = mapped_column(ForeignKey("tps.code"), primary_key=True, index=True)


class AuthSession(Base):
    """A login: only the sha256 of the bearer token is stored."""

    __tablename__ = "auth_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LoginFailure(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class LoginThrottle(Base):
    """Login attempts per key (an address, or an account at an address) in a fixed window."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer)


class Photo(Base):
    """An original photo, stored content-addressed; never altered or deleted."""

    __tablename__ = "photos"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(10))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # 64-bit perceptual hash, set by the worker; its four 16-bit bands are indexed so that
    # near-duplicates (<= 3 bits apart share a band) are found without a full scan.
    phash: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    band0: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    band1: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    band2: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    band3: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class Submission(Base):
    """One photo sent for one TPS and race (`semua`: the blanko, every race)."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("tps_code", "race", "photo_sha", name="uq_submission_photo"),
        Index("ix_submissions_tps_race", "tps_code", "race"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tps_code: Mapped[str] = mapped_column(ForeignKey("tps.code"))
    race: Mapped[str] = mapped_column(String(40))
    photo_sha: Mapped[str] = mapped_column(ForeignKey("photos.sha256"), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    template: Mapped[str | None] = mapped_column(String(80), nullable=True)
    flags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Job(Base):
    """Reading one submission. A lease lets a dead worker's job be taken again."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Reading(Base):
    """What the reader made of a photo: one row per job, never changed."""

    __tablename__ = "readings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    worker: Mapped[str] = mapped_column(String(80))
    template: Mapped[str | None] = mapped_column(String(80), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    # Reason.export() objects; readings stored before reasons were typed hold "code: message"
    reasons: Mapped[list[dict[str, str] | str]] = mapped_column(JSON)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    qr_tps: Mapped[str | None] = mapped_column(String(40), nullable=True)
    ms: Mapped[float] = mapped_column(Float)


class FormValues(Base):
    """One version of a form's values: the reader's, then each reviewer's correction."""

    __tablename__ = "form_values"
    __table_args__ = (UniqueConstraint("submission_id", "version", name="uq_values_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(20))  # reader | reviewer
    values: Mapped[dict[str, int | None]] = mapped_column(JSON)
    problems: Mapped[list[str]] = mapped_column(JSON)  # rules broken by these values
    reason: Mapped[str] = mapped_column(Text, default="")


class Event(Base):
    """The audit trail: who did what to which submission, when and why."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id"), nullable=True, index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OfficialResult(Base):
    """KPU's published figures for one TPS and race, imported to measure the quick count's gap."""

    __tablename__ = "official_results"
    __table_args__ = (UniqueConstraint("race", "tps_code", name="uq_official_race_tps"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    race: Mapped[str] = mapped_column(ForeignKey("races.id"))
    tps_code: Mapped[str] = mapped_column(ForeignKey("tps.code"))
    votes: Mapped[list[int]] = mapped_column(JSON)
    suara_sah: Mapped[int | None] = mapped_column(Integer, nullable=True)
    suara_tidak_sah: Mapped[int | None] = mapped_column(Integer, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class Incident(Base):
    """A situation report from a monitor or the posko: what happened at which TPS."""

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("reporter_id", "client_id", name="uq_incident_client"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tps_code: Mapped[str] = mapped_column(ForeignKey("tps.code"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
