"""The reading queue, kept in the database: enqueue, claim with a lease, finish exactly once.

A worker that dies leaves its job `running` with a lease in the past; the next claim takes it
again. Finishing is conditional on still holding the lease, in the same transaction as the
reading it stores, so a job's result is counted once even if two workers end up reading it.

With a broker (job_backend "celery") a message only says "job N is ready": the worker claims
that job by id, under the same lease rules. For a *queued* job `lease_until` is the broker's
lease: when it was last published plus job_republish_s, after which a sweeper presumes the
message lost and publishes it again (`due`), once, whatever the number of sweepers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sipantau.api.infra.models import Job, utcnow


class Unavailable(RuntimeError):
    """A service a worker needs (the photo store) is down: its job was handed back, not failed."""


@dataclass(frozen=True)
class Claim:
    """A job held by one worker until `attempt`'s lease ends."""

    job_id: int
    submission_id: int
    attempt: int
    owner: str


def enqueue(session: Session, submission_id: int) -> Job:
    job = Job(submission_id=submission_id, state="queued")
    session.add(job)
    session.flush()
    return job


def claim(session: Session, owner: str, lease_s: float, max_attempts: int) -> Claim | None:
    """Take the oldest queued job, or one whose worker's lease ran out."""
    now = utcnow()
    candidates = (
        select(Job.id).where(_claimable(now), Job.attempts < max_attempts).order_by(Job.id).limit(1)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    job_id = session.scalar(candidates)
    return None if job_id is None else _take(session, Job.id == job_id, owner, lease_s, now)


def claim_by_id(
    session: Session, job_id: int, owner: str, lease_s: float, max_attempts: int
) -> Claim | None:
    """Take job `job_id` if it is queued or its lease ran out; None: done, held or spent."""
    now = utcnow()
    where = and_(Job.id == job_id, Job.attempts < max_attempts, _claimable(now))
    return _take(session, where, owner, lease_s, now)


def _take(
    session: Session, where: ColumnElement[bool], owner: str, lease_s: float, now: datetime
) -> Claim | None:
    """The job matching `where`, running for `owner` under a new lease and attempt."""
    row = session.execute(
        update(Job)
        .where(where)
        .values(
            state="running",
            attempts=Job.attempts + 1,
            owner=owner,
            lease_until=now + timedelta(seconds=lease_s),
            started_at=now,
        )
        .returning(Job.id, Job.submission_id, Job.attempts)
    ).one_or_none()
    return None if row is None else Claim(row.id, row.submission_id, row.attempts, owner)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(Job.state == "queued", (Job.state == "running") & (Job.lease_until < now))


def _held(claim: Claim) -> ColumnElement[bool]:
    """The job is still running under this very claim (owner and attempt): its lease holds."""
    return and_(
        Job.id == claim.job_id,
        Job.state == "running",
        Job.owner == claim.owner,
        Job.attempts == claim.attempt,
    )


def finish(session: Session, claim: Claim, error: str | None = None) -> bool:
    """Mark the job done (or failed), only if this claim still holds it. False: lost it."""
    result = session.execute(
        update(Job)
        .where(_held(claim))
        .values(state="failed" if error else "done", finished_at=utcnow(), error=error)
    )
    return _rowcount(result) == 1


def release(session: Session, claim: Claim) -> bool:
    """Hand a job back untried (the photo store was down, not the photo's fault): queued again
    and the attempt not counted; only while this claim holds it."""
    result = session.execute(
        update(Job)
        .where(_held(claim))
        .values(state="queued", owner=None, lease_until=None, attempts=claim.attempt - 1)
    )
    return _rowcount(result) == 1


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (its result is a CursorResult; the typed signature says Result)."""
    return cast("CursorResult[Any]", result).rowcount


def abandoned(session: Session, max_attempts: int) -> list[Job]:
    """Jobs whose every attempt died (the photo may crash the reader): for a person to see."""
    return list(
        session.scalars(
            select(Job).where(
                Job.state == "running", Job.attempts >= max_attempts, Job.lease_until < utcnow()
            )
        )
    )


def requeue_expired(
    session: Session, max_attempts: int, republish_s: float, limit: int = 1000
) -> list[int]:
    """Jobs whose worker vanished (lease ran out, attempts left) back to queued; their ids.

    Their message died with the worker, so the caller publishes them again at once.
    """
    now = utcnow()
    expired = and_(Job.state == "running", Job.lease_until < now, Job.attempts < max_attempts)
    return _bump(session, expired, "queued", now + timedelta(seconds=republish_s), limit)


def due(session: Session, republish_s: float, limit: int = 1000) -> list[int]:
    """Queued jobs whose message is overdue, marked published again now; their ids (oldest first).

    The conditional update makes each one due for exactly one of several concurrent sweepers.
    """
    now = utcnow()
    overdue = and_(
        Job.state == "queued",
        or_(
            Job.lease_until < now,
            Job.lease_until.is_(None) & (Job.created_at < now - timedelta(seconds=republish_s)),
        ),
    )
    return _bump(session, overdue, "queued", now + timedelta(seconds=republish_s), limit)


def _bump(
    session: Session, where: ColumnElement[bool], state: str, until: datetime, limit: int
) -> list[int]:
    ids = list(session.scalars(select(Job.id).where(where).order_by(Job.id).limit(limit)))
    if not ids:
        return []
    won = session.scalars(
        update(Job)
        .where(Job.id.in_(ids), where)
        .values(state=state, lease_until=until)
        .returning(Job.id)
    )
    return sorted(won)


def pending(session: Session) -> int:
    """Jobs that should have a message in the broker: queued, or running under a live lease."""
    now = utcnow()
    live = or_(Job.state == "queued", (Job.state == "running") & (Job.lease_until >= now))
    return int(session.scalar(select(func.count()).select_from(Job).where(live)) or 0)
