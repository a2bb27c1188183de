"""Leadership's view: verified totals, coverage, missing TPS, exports. Never for monitors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from sipantau.api.domain.auth import Principal
from sipantau.api.domain.errors import not_found
from sipantau.api.domain.exports import rows, to_csv, to_xlsx
from sipantau.api.domain.report_data import gather
from sipantau.api.domain.report_pdf import build_pdf, wib
from sipantau.api.domain.tally import coverage, results, tps_states
from sipantau.api.web.deps import Ctx, role
from sipantau.api.web.schemas.base import answers, binary
from sipantau.api.web.schemas.results import CoverageOut, MissingOut, ResultsOut

router = APIRouter(tags=["results"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Staff = Annotated[Principal, Depends(role("reviewer", "leadership", "admin"))]
Reporter = Annotated[Principal, Depends(role("leadership", "admin"))]


@router.get("/results", **answers(ResultsOut))
def get_results(
    ctx: Ctx, user: Staff, race: str, level: str = "kota", parent: str | None = None
) -> dict[str, Any]:
    with ctx.reads() as session:
        return results(session, race, level, parent)


@router.get("/coverage", **answers(CoverageOut))
def get_coverage(
    ctx: Ctx, user: Staff, race: str, level: str = "kota", parent: str | None = None
) -> dict[str, Any]:
    with ctx.reads() as session:
        return coverage(session, race, level, parent)


@router.get("/coverage/missing", **answers(MissingOut))
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


@router.get("/exports/results.{fmt}", **binary("text/csv", XLSX))
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


@router.get("/results/report.pdf")
def report_pdf(ctx: Ctx, user: Reporter) -> Response:
    """The "Laporan Hitung Cepat" for leadership to send up (PDF, built off the event loop)."""
    who = f"{user.name or user.username} (akun {user.username})"
    with ctx.reads() as session:
        report = gather(session, who)
    stamp = wib(report.generated_at).replace(" WIB", "").replace(":", "")
    name = "laporan-hitung-cepat-" + "-".join(stamp.split()) + ".pdf"
    return Response(
        build_pdf(report),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
