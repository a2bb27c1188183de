"""Leadership's view: verified totals, coverage, missing TPS, exports. Never for monitors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from sipantau.api.domain.auth import Principal
from sipantau.api.domain.errors import not_found
from sipantau.api.domain.exports import rows, to_csv, to_xlsx
from sipantau.api.domain.tally import coverage, results, tps_states
from sipantau.api.web.deps import Ctx, role

router = APIRouter(tags=["results"])
Staff = Annotated[Principal, Depends(role("reviewer", "leadership", "admin"))]


@router.get("/results")
def get_results(
    ctx: Ctx, user: Staff, race: str, level: str = "kota", parent: str | None = None
) -> dict[str, Any]:
    with ctx.reads() as session:
        return results(session, race, level, parent)


@router.get("/coverage")
def get_coverage(
    ctx: Ctx, user: Staff, race: str, level: str = "kota", parent: str | None = None
) -> dict[str, Any]:
    with ctx.reads() as session:
        return coverage(session, race, level, parent)


@router.get("/coverage/missing")
def missing(ctx: Ctx, user: Staff, race: str) -> dict[str, Any]:
    with ctx.reads() as session:
        _, states = tps_states(session, race)
        return {
            "race": race,
            "items": [
                {
                    "tps": s.code,
                    "number": s.number,
                    "kelurahan": s.kelurahan[1],
                    "kecamatan": s.kecamatan[1],
                    "state": s.state,
                }
                for s in states
                if s.state in ("missing", "retake")
            ],
        }


@router.get("/exports/results.{fmt}")
def export(fmt: str, ctx: Ctx, user: Staff, race: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        raise not_found("format ekspor")
    with ctx.reads() as session:
        table = rows(session, race)
    name = f"hasil-{race}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(to_csv(table), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(
        to_xlsx(table, f"Hasil {race}"),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )
