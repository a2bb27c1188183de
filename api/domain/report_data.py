"""What the "Laporan Hitung Cepat" says, gathered as plain data: verified totals and shares per
race and kecamatan, coverage, the gap with KPU, incidents, when and by whom (PDF: report_pdf)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sipantau.api.domain.directory import election_info
from sipantau.api.domain.incidents import listing
from sipantau.api.domain.official import gap
from sipantau.api.domain.tally import coverage, results, tps_states

LATEST_INCIDENTS = 15


@dataclass(frozen=True)
class RegionLine:
    """One kecamatan of one race: verified votes per paslon (None while no TPS is verified)."""

    name: str
    votes: list[int] | None
    tps_total: int
    tps_verified: int


@dataclass(frozen=True)
class RaceReport:
    id: str
    name: str
    paslon: list[str]
    votes: list[int]
    suara_sah: int
    suara_tidak_sah: int
    pemilih: int
    coverage: dict[str, int]
    kecamatan: list[RegionLine]
    gap: dict[str, Any] | None  # totals over the TPS KPU and we both have; None: not imported
    gap_imported_at: str | None = None


@dataclass(frozen=True)
class Report:
    election: str
    region: str
    date: str
    generated_at: datetime  # UTC; the instant the figures were read
    last_verified_at: str | None  # ISO, the newest verification counted
    produced_by: str
    races: list[RaceReport]
    incidents_total: int = 0
    incidents_by_kind: list[tuple[str, int]] = field(default_factory=list)
    incidents_latest: list[dict[str, Any]] = field(default_factory=list)


def _race(session: Session, race: dict[str, Any]) -> tuple[RaceReport, list[str]]:
    """One race's section, and the verification times of its counted TPS."""
    res = results(session, race["id"], "kecamatan", None)
    cov = coverage(session, race["id"], "kota", None)["total"]
    g = gap(session, race["id"])
    total = res["total"]
    lines = [
        RegionLine(
            r["name"],
            list(r["votes"]) if r["tps_verified"] else None,
            r["tps_total"],
            r["tps_verified"],
        )
        for r in res["rows"]
    ]
    _, states = tps_states(session, race["id"])
    verified_at = [s.verified_at for s in states if s.state == "verified" and s.verified_at]
    report = RaceReport(
        id=race["id"],
        name=race["name"],
        paslon=list(res["paslon"]),
        votes=list(total["votes"]),
        suara_sah=total["suara_sah"],
        suara_tidak_sah=total["suara_tidak_sah"],
        pemilih=total["pemilih"],
        coverage={k: int(v) for k, v in cov.items() if isinstance(v, int)},
        kecamatan=lines,
        gap=g["total"] if g["imported_at"] else None,
        gap_imported_at=g["imported_at"],
    )
    return report, verified_at


def gather(session: Session, produced_by: str) -> Report:
    """Everything the report shows, read in one session (one consistent moment)."""
    info = election_info(session)
    now = datetime.now(UTC)
    races, times = [], []
    for race in info["races"]:
        r, at = _race(session, race)
        races.append(r)
        times += at
    incidents = listing(session, None, None)
    kinds = Counter(i["label"] for i in incidents)
    return Report(
        election=info["name"],
        region=info["region"],
        date=info["date"],
        generated_at=now,
        last_verified_at=max(times) if times else None,
        produced_by=produced_by,
        races=races,
        incidents_total=len(incidents),
        incidents_by_kind=kinds.most_common(),
        incidents_latest=incidents[:LATEST_INCIDENTS],
    )
