"""Monitors send photos; everyone allowed sees a submission, its photo, crops and history."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import APIRouter, Body, Depends, File, Form, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipantau.api.domain.auth import Principal
from sipantau.api.domain.errors import Internal, TooLarge, conflict, forbidden, not_found
from sipantau.api.domain.intake import accept
from sipantau.api.domain.outcome import WITHDRAWABLE, withdraw
from sipantau.api.domain.views import latest_reading, submission_view, submission_views
from sipantau.api.infra.context import Context
from sipantau.api.infra.models import Event, FormValues, Submission
from sipantau.api.infra.models import User as UserRow
from sipantau.api.infra.storage import PhotoMissing, media_type
from sipantau.api.web.deps import Ctx, User, role
from sipantau.api.web.params import Offset, SubId
from sipantau.api.web.schemas.base import answers, binary
from sipantau.api.web.schemas.submissions import HistoryOut, SubmissionOut, SubmissionsOut

router = APIRouter(tags=["submissions"])
Uploader = Annotated[Principal, Depends(role("monitor", "admin"))]
PENDING = ("queued", "reading")


def visible(session: Session, user: Principal, sub_id: int) -> Submission:
    """The submission, if this user may see it (a monitor: only their own TPS)."""
    sub = session.get(Submission, sub_id)
    if sub is None:
        raise not_found(f"kiriman #{sub_id}")
    if user.role == "monitor" and sub.tps_code not in user.tps and sub.submitted_by != user.id:
        raise not_found(f"kiriman #{sub_id}")
    return sub


def _view(ctx: Context, user: Principal, sub_id: int) -> dict[str, Any]:
    with ctx.reads() as session:
        return submission_view(session, visible(session, user, sub_id))


async def _wait_view(ctx: Context, user: Principal, sub_id: int, wait: float) -> dict[str, Any]:
    """The submission, once read or after `wait` seconds, whichever is first."""
    deadline = time.monotonic() + wait
    view = await run_in_threadpool(_view, ctx, user, sub_id)
    while view["status"] in PENDING and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        view = await run_in_threadpool(_view, ctx, user, sub_id)
    return view


@router.post("/submissions", status_code=201, **answers(SubmissionOut))
async def upload(
    ctx: Ctx,
    user: Uploader,
    response: Response,
    tps: Annotated[str, Form(min_length=1, max_length=40)],
    race: Annotated[str, Form(min_length=1, max_length=40)],
    photo: Annotated[UploadFile, File()],
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    wait: Annotated[float, Query(ge=0, le=20)] = 0,
) -> dict[str, Any]:
    """Send a photo of the form for a TPS and race; the same photo again answers 200."""
    limit = ctx.settings.max_upload_bytes
    data = await photo.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"foto lebih dari {limit // 1_000_000} MB")
    done = await run_in_threadpool(accept, ctx, user, tps.strip(), race.strip(), data, client_id)
    if not done.created:
        response.status_code = 200
    return await _wait_view(ctx, user, done.submission_id, wait)


class WithdrawIn(BaseModel):
    reason: str = Field("", max_length=500)


@router.post("/submissions/{sub_id}/withdraw", **answers(SubmissionOut))
def withdraw_upload(
    sub_id: SubId,
    ctx: Ctx,
    user: Uploader,
    body: Annotated[WithdrawIn | None, Body()] = None,
) -> dict[str, Any]:
    """The sender takes an upload back (a wrong photo): it no longer counts; history keeps it."""
    with ctx.sessions() as session, session.begin():
        sub = visible(session, user, sub_id)
        session.refresh(sub, with_for_update=True)
        if sub.submitted_by != user.id:
            raise forbidden("hanya pengirim yang dapat menarik kirimannya")
        if sub.status not in WITHDRAWABLE:
            raise conflict(f"kiriman berstatus {sub.status} tidak dapat ditarik")
        withdraw(session, sub, user.id, (body.reason if body else "").strip())
        session.flush()
        return submission_view(session, sub)


@router.get("/submissions/{sub_id}", **answers(SubmissionOut))
async def get_submission(
    sub_id: SubId, ctx: Ctx, user: User, wait: Annotated[float, Query(ge=0, le=20)] = 0
) -> dict[str, Any]:
    return await _wait_view(ctx, user, sub_id, wait)


@router.get("/submissions", **answers(SubmissionsOut))
def list_submissions(
    ctx: Ctx,
    user: User,
    tps: str | None = None,
    race: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    offset: Offset = 0,
) -> dict[str, Any]:
    with ctx.reads() as session:
        q = select(Submission).order_by(Submission.id.desc())
        if user.role == "monitor":
            q = q.where(Submission.tps_code.in_(user.tps) | (Submission.submitted_by == user.id))
        if tps:
            q = q.where(Submission.tps_code == tps)
        if race:
            q = q.where(Submission.race == race)
        if status:
            q = q.where(Submission.status == status)
        subs = list(session.scalars(q.limit(limit).offset(offset)))
        return {"items": submission_views(session, subs)}


@router.get(
    "/submissions/{sub_id}/photo",
    **binary("image/jpeg", "image/png", "image/webp", "image/tiff", "image/bmp"),
)
def original_photo(sub_id: SubId, ctx: Ctx, user: User) -> Response:
    with ctx.reads() as session:
        sub = visible(session, user, sub_id)
        if user.role == "monitor" and sub.submitted_by != user.id:
            raise forbidden("hanya pengirim yang dapat mengunduh fotonya")
        sha = sub.photo_sha
    data = ctx.store.get(sha)
    headers = {"Cache-Control": "private, max-age=86400"}
    return Response(data, media_type=media_type(data), headers=headers)


def _page(ctx: Context, sub_id: int) -> bytes:
    try:
        return ctx.store.get_derived(f"{sub_id}-page.jpg")
    except PhotoMissing:
        raise not_found("halaman yang diluruskan (foto belum atau tidak terbaca)") from None


@router.get("/submissions/{sub_id}/page.jpg", **binary("image/jpeg"))
def aligned_page(sub_id: SubId, ctx: Ctx, user: User) -> Response:
    with ctx.reads() as session:
        visible(session, user, sub_id)
    return Response(_page(ctx, sub_id), media_type="image/jpeg")


@router.get("/submissions/{sub_id}/fields/{name}.png", **binary("image/png"))
def field_crop(sub_id: SubId, name: str, ctx: Ctx, user: User) -> Response:
    with ctx.reads() as session:
        visible(session, user, sub_id)
        reading = latest_reading(session, sub_id)
        box = (reading.fields.get(name) or {}).get("box") if reading else None
    if not box:
        raise not_found(f"kolom {name[:40]}")
    page = cv2.imdecode(np.frombuffer(_page(ctx, sub_id), np.uint8), cv2.IMREAD_GRAYSCALE)
    x, y, w, h = box
    m = max(4, h // 5)
    crop = page[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]
    ok, buf = cv2.imencode(".png", crop)
    if not ok:
        raise Internal("potongan kolom tidak dapat dibuat")
    return Response(buf.tobytes(), media_type="image/png")


@router.get("/submissions/{sub_id}/history", **answers(HistoryOut))
def history(sub_id: SubId, ctx: Ctx, user: User) -> dict[str, Any]:
    with ctx.reads() as session:
        visible(session, user, sub_id)
        names = dict(session.execute(select(UserRow.id, UserRow.username)).tuples().all())
        versions = session.scalars(
            select(FormValues)
            .where(FormValues.submission_id == sub_id)
            .order_by(FormValues.version)
        ).all()
        events = session.scalars(
            select(Event).where(Event.submission_id == sub_id).order_by(Event.id)
        ).all()
        return {
            "values": [
                {
                    "version": v.version,
                    "at": v.created_at.isoformat(),
                    "by": names.get(v.author_id) if v.author_id else "mesin",
                    "source": v.source,
                    "values": v.values,
                    "problems": v.problems,
                    "reason": v.reason,
                }
                for v in versions
            ],
            "events": [
                {
                    "at": e.at.isoformat(),
                    "by": names.get(e.actor_id) if e.actor_id else "sistem",
                    "kind": e.kind,
                    "detail": e.detail,
                }
                for e in events
            ],
        }
