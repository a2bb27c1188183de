"""Totals, coverage, arrivals, KPU's figures and the gap, situation reports, health."""

from __future__ import annotations

from typing import Any

from sipantau.api.web.schemas.base import Out


class ResultRow(Out):
    code: str
    name: str
    votes: list[int]
    suara_sah: int
    suara_tidak_sah: int
    pemilih: int
    tps_total: int
    tps_verified: int
    tps_unverified: int


class ResultsOut(Out):
    race: str
    level: str
    parent: str | None
    paslon: list[str]
    rows: list[ResultRow]
    total: ResultRow
    unverified_tps: int


class CoverageRow(Out):
    code: str
    name: str
    tps_total: int
    received: int
    verified: int
    in_review: int
    retake: int
    missing: int


class CoverageOut(Out):
    race: str
    level: str
    rows: list[CoverageRow]
    total: CoverageRow


class MissingTps(Out):
    tps: str
    number: int
    kelurahan: str
    kecamatan: str
    state: str


class MissingOut(Out):
    race: str
    items: list[MissingTps]


class Bucket(Out):
    at: str
    received: int
    verified: int


class TimelineOut(Out):
    race: str
    bucket_min: int
    items: list[Bucket]


class GapRow(Out):
    tps: str
    number: int
    kelurahan: str
    kecamatan: str
    official: list[int]
    quick: list[int] | None
    diff: list[int] | None


class GapTotal(Out):
    official: list[int]
    quick: list[int]
    diff: list[int]
    tps_compared: int
    tps_official: int


class GapOut(Out):
    race: str
    paslon: list[str]
    imported_at: str | None
    rows: list[GapRow]
    total: GapTotal


class OfficialImportOut(Out):
    race: str
    imported: int


class IncidentOut(Out):
    """A report as filed."""

    id: int
    tps: str
    kind: str
    note: str
    at: str


class IncidentItem(Out):
    id: int | None
    tps: str
    number: int
    kelurahan: str
    kecamatan: str
    source: str
    kind: str
    label: str
    note: str | None
    at: str
    by: str | None
    submission_id: int | None


class IncidentsOut(Out):
    kinds: dict[str, str]
    items: list[IncidentItem]


class HealthOut(Out):
    status: str


class CheckResult(Out):
    ok: bool
    ms: float
    message: str | None = None


class ReadyOut(Out):
    """200 when ready; the 503 body adds `error` and failing checks' messages."""

    status: str
    checks: dict[str, CheckResult]
    error: dict[str, Any] | None = None
