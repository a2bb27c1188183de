"""The reading queue, kept in the database: enqueue, claim with a lease, finish exactly once.

A worker that dies leaves its job `running` with a lease in the past; the next claim takes it
again. Finishing is conditional on still holding the lease, in the same transaction as the
reading it stores, so a job's result is counted once even if two workers end up reading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sipantau.api.models import Job, utcnow


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
        select(Job.id)
        .where(
            or_(Job.state == "queued", (Job.state == "running") & (Job.lease_until < now)),
            Job.attempts < max_attempts,
        )
        .order_by(Job.id)
        .limit(1)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    job_id = session.scalar(candidates)
    if job_id is None:
        return None
    row = session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            state="running",
            attempts=Job.attempts + 1,
            owner=owner,
            lease_until=now + timedelta(seconds=lease_s),
            started_at=now,
        )
        .returning(Job.submission_id, Job.attempts)
    ).one()
    return Claim(job_id, row.submission_id, row.attempts, owner)


def finish(session: Session, claim: Claim, error: str | None = None) -> bool:
    """Mark the job done (or failed), only if this claim still holds it. False: lost it."""
    result = session.execute(
        update(Job)
        .where(
            Job.id == claim.job_id,
            Job.state == "running",
            Job.owner == claim.owner,
            Job.attempts == claim.attempt,
        )
        .values(state="failed" if error else "done", finished_at=utcnow(), error=error)
    )
    return result.rowcount == 1


def abandoned(session: Session, max_attempts: int) -> list[Job]:
    """Jobs whose every attempt died (the photo may crash the reader): for a person to see."""
    return list(
        session.scalars(
            select(Job).where(
                Job.state == "running", Job.attempts >= max_attempts, Job.lease_until < utcnow()
            )
        )
    )
