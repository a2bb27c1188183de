"""The posko's review: the queue, claiming a form, correcting, approving, sending back."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from sipantau.api.domain.auth import Principal
from sipantau.api.domain.errors import Forbidden, conflict, invalid
from sipantau.api.domain.outcome import fields_for, supersede_older
from sipantau.api.domain.rules import ALL_RACES, field_problems, problems
from sipantau.api.domain.views import latest_values, submission_view, submission_views
from sipantau.api.infra.models import Event, FormValues, Kelurahan, Submission, Tps, utcnow
from sipantau.api.web.deps import Ctx, role
from sipantau.api.web.params import SubId
from sipantau.api.web.routes.submissions import visible
from sipantau.api.web.schemas.base import answers
from sipantau.api.web.schemas.submissions import CheckOut, QueueOut, SubmissionOut
from sipantau.templates.model import Template
from sipantau.templates.registry import all_templates

router = APIRouter(tags=["review"])
Reviewer = Annotated[Principal, Depends(role("reviewer", "admin"))]
WAITING = ("review",)


class ClaimIn(BaseModel):
    kecamatan: str | None = Field(None, max_length=20)
    race: str | None = Field(None, max_length=40)


# A JSON integer, nothing coerced into one (`true`, `"12"`, `12.0` are refused: 422); each
# field's own range is checked against its template (`_template_with`).
Count = Annotated[StrictInt, Field(ge=0, le=99_999)]


class CorrectionIn(BaseModel):
    values: dict[str, Count | None] = Field(min_length=1, max_length=100)
    reason: str = Field("", max_length=500)


class CheckIn(BaseModel):
    values: dict[str, Count | None] = Field(default_factory=dict, max_length=100)


class ApproveIn(BaseModel):
    reason: str = Field("", max_length=500)
    accept_problems: bool = False  # the paper itself is inconsistent, as written by the officer


class SendBackIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


def _queue_query(kecamatan: str | None, race: str | None) -> Select[Submission]:
    q = select(Submission).where(Submission.status.in_(WAITING))
    if kecamatan:
        q = q.join(Tps, Tps.code == Submission.tps_code).join(
            Kelurahan, Kelurahan.code == Tps.kelurahan_code
        )
        q = q.where(Kelurahan.kecamatan_code == kecamatan)
    if race:
        q = q.where(Submission.race.in_((race, ALL_RACES)))
    return q


@router.get("/review/queue", **answers(QueueOut))
def queue(
    ctx: Ctx,
    user: Reviewer,
    kecamatan: str | None = None,
    race: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    now = utcnow()
    with ctx.reads() as session:
        subs = session.scalars(_queue_query(kecamatan, race).order_by(Submission.id)).all()
        held = [s for s in subs if s.claimed_until and s.claimed_until > now]
        done = session.scalar(
            select(func.count()).select_from(Event).where(Event.kind.in_(("approved", "sent_back")))
        )
        return {
            "counts": {
                "waiting": len(subs) - len(held),
                "in_review": len(held),
                "done": done or 0,
            },
            "items": [
                view | {"claimed": s in held}
                for s, view in zip(
                    subs[:limit], submission_views(session, list(subs[:limit])), strict=True
                )
            ],
        }


@router.post(
    "/review/claim",
    responses={204: {"description": "the queue is empty"}},
    **answers(SubmissionOut),
)
def claim(body: ClaimIn, ctx: Ctx, user: Reviewer) -> dict[str, Any] | Response:
    """The oldest waiting form no one else holds, held for this reviewer for a while."""
    now = utcnow()
    with ctx.sessions() as session, session.begin():
        q = _queue_query(body.kecamatan, body.race).where(
            or_(
                Submission.claimed_until.is_(None),
                Submission.claimed_until < now,
                Submission.claimed_by == user.id,
            ),
            Submission.submitted_by != user.id,
        )
        q = q.order_by(Submission.id).limit(1)
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=Submission)
        sub = session.scalar(q)
        if sub is None:
            return Response(status_code=204)
        sub.claimed_by = user.id
        sub.claimed_until = now + timedelta(seconds=ctx.settings.claim_ttl_s)
        session.add(Event(submission_id=sub.id, actor_id=user.id, kind="claimed"))
        session.flush()
        return submission_view(session, sub)


def _editable(session: Session, user: Principal, sub_id: int) -> Submission:
    sub = visible(session, user, sub_id)
    if sub.status not in ("review", "verified", "sent_back"):
        raise conflict(f"kiriman berstatus {sub.status} tidak dapat diperiksa")
    if sub.claimed_by not in (None, user.id) and sub.claimed_until and sub.claimed_until > utcnow():
        raise conflict("kiriman ini sedang diperiksa petugas lain")
    return sub


def _template_with(sub: Submission, values: dict[str, int | None]) -> Template:
    """The form's template, after checking that `values` names its fields with sane numbers."""
    template = all_templates().get(sub.template or "")
    if template is None:
        raise conflict("kiriman ini belum terbaca sebagai formulir yang dikenal")
    unknown = sorted(set(values) - {f.name for f in template.fields})
    if unknown:
        raise invalid(f"kolom tidak dikenal: {', '.join(unknown[:5])}")
    top = {f.name: 1 if f.kind == "tick" else template.max_value for f in template.fields}
    bad = [f"{k} (0-{top[k]})" for k, v in values.items() if v is not None and not 0 <= v <= top[k]]
    if bad:
        raise invalid(f"nilai di luar batas kolom: {', '.join(bad[:5])}")
    return template


@router.post("/submissions/{sub_id}/check", **answers(CheckOut))
def check(sub_id: SubId, body: CheckIn, ctx: Ctx, user: Reviewer) -> dict[str, Any]:
    """The rules re-checked on the form's values with `values` typed over them; saves nothing."""
    with ctx.reads() as session:
        sub = visible(session, user, sub_id)
        template = _template_with(sub, body.values)
        last = latest_values(session, sub.id)
        values = (dict(last.values) if last else {}) | body.values
        tps = session.get(Tps, sub.tps_code)
        assert tps is not None
        rf = fields_for(session, template, sub.race)
        found = problems(template, values, tps.dpt, rf)
        per_field = field_problems(template, values, tps.dpt, rf)
    return {
        "ok": not found,
        "reasons": found,
        "fields": {
            name: {
                "status": "review" if why else "ok",
                "reasons": [b.message for b in why],
                "rules": list(dict.fromkeys(b.rule for b in why)),
            }
            for name, why in per_field.items()
        },
    }


@router.post("/submissions/{sub_id}/corrections", **answers(SubmissionOut))
def correct(sub_id: SubId, body: CorrectionIn, ctx: Ctx, user: Reviewer) -> dict[str, Any]:
    """A new version of the values; the rules are checked again on it."""
    with ctx.sessions() as session, session.begin():
        sub = _editable(session, user, sub_id)
        template = _template_with(sub, body.values)
        last = latest_values(session, sub.id)
        values = dict(last.values) if last else {}
        changed = {k: v for k, v in body.values.items() if values.get(k) != v}
        before = {k: values.get(k) for k in changed}
        values.update(body.values)
        tps = session.get(Tps, sub.tps_code)
        assert tps is not None
        found = problems(template, values, tps.dpt, fields_for(session, template, sub.race))
        session.add(
            FormValues(
                submission_id=sub.id,
                version=(last.version if last else 0) + 1,
                author_id=user.id,
                source="reviewer",
                values=values,
                problems=found,
                reason=body.reason,
            )
        )
        if sub.status == "verified":
            sub.status, sub.verified_at, sub.verified_by = "review", None, None
        session.add(
            Event(
                submission_id=sub.id,
                actor_id=user.id,
                kind="corrected",
                detail={"changed": changed, "before": before, "reason": body.reason},
            )
        )
        session.flush()
        return submission_view(session, sub)


def _decide(
    session: Session, sub: Submission, user: Principal, status: str, kind: str, **detail: Any
) -> None:
    """A reviewer's decision: the new status, the hold released, an event saying why."""
    verified = status == "verified"
    sub.status = status
    sub.verified_at, sub.verified_by = (utcnow(), user.id) if verified else (None, None)
    sub.claimed_by = sub.claimed_until = None
    session.add(Event(submission_id=sub.id, actor_id=user.id, kind=kind, detail=detail))


@router.post("/submissions/{sub_id}/approve", **answers(SubmissionOut))
def approve(sub_id: SubId, body: ApproveIn, ctx: Ctx, user: Reviewer) -> dict[str, Any]:
    """Verify the form: from now on its numbers count."""
    with ctx.sessions() as session, session.begin():
        sub = _editable(session, user, sub_id)
        if sub.submitted_by == user.id:
            raise Forbidden(
                "Anda tidak boleh menyetujui formulir kiriman Anda sendiri", code="own_submission"
            )
        values = latest_values(session, sub.id)
        if values is None:
            raise conflict("belum ada angka untuk disetujui; isi kolomnya terlebih dahulu")
        if values.problems and not (body.accept_problems and body.reason.strip()):
            raise conflict(
                "masih ada aturan yang dilanggar: "
                + "; ".join(values.problems[:5])
                + " (perbaiki angkanya, atau setujui apa adanya dengan alasan)"
            )
        _decide(
            session, sub, user, "verified", "approved", version=values.version, reason=body.reason
        )
        supersede_older(session, sub)
        session.flush()
        return submission_view(session, sub)


@router.post("/submissions/{sub_id}/send-back", **answers(SubmissionOut))
def send_back(sub_id: SubId, body: SendBackIn, ctx: Ctx, user: Reviewer) -> dict[str, Any]:
    """Ask the monitor for a new photo, with the reason."""
    with ctx.sessions() as session, session.begin():
        sub = _editable(session, user, sub_id)
        _decide(session, sub, user, "sent_back", "sent_back", reason=body.reason)
        session.flush()
        return submission_view(session, sub)
