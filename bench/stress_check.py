"""The stress bench's invariants, checked in the database and the store after a batch: every
acknowledged upload stored and read exactly once, and totals equal to the verified forms."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import func, select

from sipantau.api.domain.views import latest_values_of
from sipantau.api.infra.context import Context
from sipantau.api.infra.models import Event, Job, Reading, Submission
from sipantau.api.infra.settings import ServiceSettings

if TYPE_CHECKING:
    from sipantau.bench.stack import Stack
    from sipantau.bench.stress import Sent

DEAD = ("rejected", "superseded", "sent_back", "withdrawn")
READ_KINDS = ("read", "rejected", "read_failed")


def _wait_read(ctx: Context, ids: list[int], deadline: float) -> int:
    """Wait until no job of `ids` is queued or running; how many still are at the deadline."""
    while True:
        with ctx.reads() as s:
            pending = s.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.submission_id.in_(ids), Job.state.in_(("queued", "running")))
            )
        if not pending or time.monotonic() > deadline:
            return int(pending or 0)
        time.sleep(1.0)


def _totals(ctx: Context, base: str, token: str) -> tuple[bool, dict[str, Any]]:
    """Per race: the API's verified totals against the sum of each TPS's newest verified form
    (a later photo still in review leaves the verified one counted)."""
    out, ok = {}, True
    with ctx.reads() as s:
        subs = s.scalars(select(Submission).order_by(Submission.id)).all()
        live: dict[tuple[str, str], Submission] = {}
        for sub in subs:
            if sub.status == "verified":
                live[(sub.tps_code, sub.race)] = sub
        verified = list(live.values())
        values = latest_values_of(s, [sub.id for sub in verified])
    for race in sorted({sub.race for sub in verified}):
        r = httpx.get(
            f"{base}/api/v1/results",
            params={"race": race},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).json()
        n = len(r["paslon"])
        mine = [values[sub.id].values for sub in verified if sub.race == race]
        expect = [sum(int(v.get(f"paslon_{i}") or 0) for v in mine) for i in range(1, n + 1)]
        match = r["total"]["votes"] == expect and r["total"]["tps_verified"] == len(mine)
        ok &= match
        out[race] = {"api": r["total"]["votes"], "forms": expect, "verified_tps": len(mine)}
    return ok, out


def check_batch(stack: Stack, sent: list[Sent], t0_wall: float, deadline: float) -> dict[str, Any]:
    """Wait for the batch to be read, then count what was lost, read twice or never read."""
    settings = ServiceSettings(data_dir=stack.data, database_url=stack.db_url)
    ctx = Context.create(settings)
    acked = [x for x in sent if x.acked and x.sub_id is not None]
    ids = [int(x.sub_id) for x in acked if x.sub_id is not None]
    still = _wait_read(ctx, ids, deadline)
    with ctx.reads() as s:
        rows = {sub.id: sub for sub in s.scalars(select(Submission).where(Submission.id.in_(ids)))}
        readings = Counter(
            s.scalars(select(Reading.submission_id).where(Reading.submission_id.in_(ids)))
        )
        read_events = Counter(
            s.scalars(
                select(Event.submission_id).where(
                    Event.submission_id.in_(ids), Event.kind.in_(READ_KINDS)
                )
            )
        )
        jobs = {
            j.submission_id: j for j in s.scalars(select(Job).where(Job.submission_id.in_(ids)))
        }
        times = s.execute(
            select(func.min(Reading.created_at), func.max(Reading.created_at)).where(
                Reading.submission_id.in_(ids)
            )
        ).one()
    lost = [
        x.sha
        for x in acked
        if (sub := rows.get(int(x.sub_id or 0))) is None
        or (sub.photo_sha, sub.tps_code, sub.race) != (x.sha, x.tps, x.race)
        or not ctx.store.exists(x.sha)
    ]
    read_twice = sum(1 for i in ids if readings[i] > 1 or read_events[i] > 1)
    unread_ids = [i for i in ids if read_events[i] == 0]
    unread = len(unread_ids)
    totals_ok, totals = _totals(ctx, stack.base, stack.admin_token())
    first, last = times
    n_read = sum(1 for i in ids if readings[i])
    span = (last - first).total_seconds() if first and last else 0.0
    ok = not lost and not read_twice and not unread and not still and totals_ok
    return {
        "ok": ok,
        "lost": len(lost),
        "read_twice": read_twice,
        "unread": unread,
        "pending_at_deadline": still,
        "distinct_submissions": len(set(ids)),
        "jobs_retried": sum(1 for j in jobs.values() if j.attempts > 1),
        "jobs_failed": sum(1 for j in jobs.values() if j.state == "failed"),
        "totals_match": totals_ok,
        "totals": totals,
        "all_read_s": round(last.timestamp() - t0_wall, 1) if last else None,
        "read_per_min": round(n_read / span * 60, 1) if span > 0 else None,
        "statuses": dict(Counter(sub.status for sub in rows.values())),
        # what an unread submission's job says, so a failure shows its cause (first 5)
        "unread_jobs": [_job_state(i, rows.get(i), jobs.get(i)) for i in unread_ids[:5]],
    }


def _job_state(sub_id: int, sub: Submission | None, job: Job | None) -> dict[str, Any]:
    return {
        "submission": sub_id,
        "status": sub.status if sub else None,
        "job": None
        if job is None
        else {
            "state": job.state,
            "attempts": job.attempts,
            "owner": job.owner,
            "error": (job.error or "")[:200],
            "lease_until": job.lease_until.isoformat() if job.lease_until else None,
        },
    }
