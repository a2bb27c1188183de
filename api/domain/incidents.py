"""Situation reports: incidents a monitor or the posko reports, and those ticked on a blanko."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipantau.api.domain.auth import Principal
from sipantau.api.domain.errors import forbidden, invalid, not_found
from sipantau.api.domain.rules import ALL_RACES
from sipantau.api.domain.views import latest_values_of
from sipantau.api.infra.models import Incident, Kecamatan, Kelurahan, Submission, Tps, User

KINDS = {
    "intimidasi": "Intimidasi atau ancaman",
    "politik_uang": "Politik uang",
    "surat_suara_kurang": "Surat suara kurang",
    "pemilih_tidak_terdaftar": "Pemilih tidak terdaftar ikut memilih",
    "kericuhan": "Kericuhan",
    "lainnya": "Lainnya",
}
TICK = "situasi_insiden"
LIVE = ("queued", "reading", "review", "verified")


def report(
    session: Session,
    user: Principal,
    tps: str,
    kind: str,
    note: str,
    client_id: str | None = None,
) -> Incident:
    """A new report; a monitor may report only for their own TPS. The same `client_id` from
    the same person again (a phone resending after a lost answer) returns the first report."""
    if kind not in KINDS:
        raise invalid(f"jenis laporan harus salah satu dari: {', '.join(KINDS)}")
    if session.get(Tps, tps) is None:
        raise not_found(f"TPS {tps[:40]}")
    if user.role == "monitor" and tps not in user.tps:
        raise forbidden("Anda hanya dapat melapor untuk TPS Anda sendiri")
    if client_id:
        old = session.scalar(
            select(Incident).where(Incident.reporter_id == user.id, Incident.client_id == client_id)
        )
        if old is not None:
            return old
    row = Incident(
        tps_code=tps, kind=kind, note=note.strip(), reporter_id=user.id, client_id=client_id
    )
    session.add(row)
    session.flush()
    return row


def _ticked(session: Session, tps: str | None) -> list[Submission]:
    """Live blanko submissions whose latest values tick 'ada insiden'."""
    q = select(Submission).where(Submission.race == ALL_RACES, Submission.status.in_(LIVE))
    if tps:
        q = q.where(Submission.tps_code == tps)
    subs = list(session.scalars(q))
    values = latest_values_of(session, [s.id for s in subs])
    return [s for s in subs if s.id in values and values[s.id].values.get(TICK) == 1]


def listing(session: Session, kecamatan: str | None, tps: str | None) -> list[dict[str, Any]]:
    """Every report, newest first, with where it happened and who said so."""
    places = {
        t.code: (t.number, kel.name, kec.code, kec.name)
        for t, kel, kec in session.execute(
            select(Tps, Kelurahan, Kecamatan)
            .join(Kelurahan, Kelurahan.code == Tps.kelurahan_code)
            .join(Kecamatan, Kecamatan.code == Kelurahan.kecamatan_code)
        )
    }
    names = dict(session.execute(select(User.id, User.username)).tuples().all())
    q = select(Incident)
    if tps:
        q = q.where(Incident.tps_code == tps)
    items: list[dict[str, Any]] = [
        dict(
            id=i.id,
            tps=i.tps_code,
            source="pemantau",
            kind=i.kind,
            note=i.note,
            at=i.at,
            by=names.get(i.reporter_id or 0),
            submission_id=None,
        )
        for i in session.scalars(q)
    ] + [
        dict(
            id=None,
            tps=s.tps_code,
            source="blanko",
            kind="lainnya",
            note="ditandai pada blanko",
            at=s.created_at,
            by=names.get(s.submitted_by),
            submission_id=s.id,
        )
        for s in _ticked(session, tps)
    ]
    out = []
    for item in sorted(items, key=lambda x: x["at"], reverse=True):
        number, kel, kec_code, kec = places[item["tps"]]
        if kecamatan and kec_code != kecamatan:
            continue
        out.append(
            item
            | {
                "number": number,
                "kelurahan": kel,
                "kecamatan": kec,
                "label": KINDS.get(item["kind"], item["kind"]),
                "at": item["at"].isoformat(),
            }
        )
    return out
