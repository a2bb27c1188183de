"""Reports beside the totals: arrivals over time, KPU's official result and the gap, incidents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from sipantau.api.domain.auth import Principal
from sipantau.api.domain.errors import conflict, forbidden, invalid
from sipantau.api.domain.incidents import KINDS, listing, report
from sipantau.api.domain.official import gap, import_official
from sipantau.api.domain.tally import timeline
from sipantau.api.infra.models import Race
from sipantau.api.web.deps import Ctx, User, role
from sipantau.api.web.schemas.base import answers
from sipantau.api.web.schemas.results import (
    GapOut,
    IncidentOut,
    IncidentsOut,
    OfficialImportOut,
    TimelineOut,
)

router = APIRouter(tags=["reports"])
Staff = Annotated[Principal, Depends(role("reviewer", "leadership", "admin"))]
Admin = Annotated[Principal, Depends(role("admin"))]
MAX_CSV = 5_000_000


class IncidentIn(BaseModel):
    tps: str = Field(min_length=1, max_length=30)
    kind: str = Field(min_length=1, max_length=40)
    note: str = Field("", max_length=1000)
    client_id: str | None = Field(None, max_length=64)  # the phone's id: a resend is a no-op


@router.get("/results/timeline", **answers(TimelineOut))
def get_timeline(
    ctx: Ctx, user: Staff, race: str, bucket_min: Annotated[int, Query(ge=1, le=1440)] = 15
) -> dict[str, Any]:
    with ctx.reads() as session:
        return timeline(session, race, bucket_min)


@router.get("/results/gap", **answers(GapOut))
def get_gap(ctx: Ctx, user: Staff, race: str) -> dict[str, Any]:
    with ctx.reads() as session:
        return gap(session, race)


@router.post("/admin/official-results", **answers(OfficialImportOut))
async def upload_official(
    ctx: Ctx, user: Admin, race: str, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """KPU's result per TPS for one race; replaces any earlier import of that race."""
    data = await file.read(MAX_CSV + 1)
    if len(data) > MAX_CSV:
        raise invalid("berkas hasil resmi terlalu besar (maksimal 5 MB)")

    def save() -> int:
        with ctx.sessions() as session, session.begin():
            r = session.get(Race, race)
            if r is None:
                raise invalid(f"pemilihan '{race[:40]}' tidak dikenal")
            return import_official(session, r, data, user.id)

    return {"race": race, "imported": await run_in_threadpool(save)}


@router.post("/incidents", status_code=201, **answers(IncidentOut))
def post_incident(body: IncidentIn, ctx: Ctx, user: User) -> dict[str, Any]:
    if user.role == "leadership":
        raise forbidden("pimpinan hanya dapat melihat laporan")
    for _ in range(2):  # a concurrent resend of the same report: the second finds the first
        try:
            with ctx.sessions() as session, session.begin():
                row = report(session, user, body.tps, body.kind, body.note, body.client_id)
                return {
                    "id": row.id,
                    "tps": row.tps_code,
                    "kind": row.kind,
                    "note": row.note,
                    "at": row.at.isoformat(),
                }
        except IntegrityError:
            continue
    raise conflict("laporan yang sama sedang dikirim; coba lagi")


@router.get("/incidents", **answers(IncidentsOut))
def get_incidents(
    ctx: Ctx, user: Staff, kecamatan: str | None = None, tps: str | None = None
) -> dict[str, Any]:
    with ctx.reads() as session:
        return {"kinds": KINDS, "items": listing(session, kecamatan, tps)}
