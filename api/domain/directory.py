"""The election in the database: importing it, and looking up races and TPS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sipantau.api.domain.errors import Conflict, Invalid, NotFound
from sipantau.api.domain.rules import ALL_RACES
from sipantau.api.infra.models import (
    ElectionRow,
    Event,
    Incident,
    Kecamatan,
    Kelurahan,
    OfficialResult,
    Race,
    Submission,
    Tps,
)

if TYPE_CHECKING:
    from sipantau.api.domain.election import ElectionConfig


def import_election(session: Session, config: ElectionConfig, actor: int | None) -> dict[str, int]:
    """Replace the election and its region tree; TPS that already have photos must stay."""
    new_tps = {t.code for t in config.regions.tps}
    used = set(session.scalars(select(Submission.tps_code).distinct()))
    used |= set(session.scalars(select(Incident.tps_code).distinct()))
    if used - new_tps:
        missing = ", ".join(sorted(used - new_tps)[:5])
        raise Conflict(
            f"TPS yang sudah punya kiriman atau laporan tidak boleh dihapus: {missing}",
        )
    e = config.election
    row = session.get(ElectionRow, 1) or ElectionRow(id=1)
    row.name, row.region, row.date = e.name, e.region, e.date
    session.add(row)
    for i, r in enumerate(e.races):
        session.merge(Race(id=r.id, short=r.short, name=r.name, paslon=list(r.paslon), position=i))
    for k in config.regions.kecamatan:
        session.merge(Kecamatan(code=k.code, name=k.name))
    session.flush()
    for kel in config.regions.kelurahan:
        session.merge(Kelurahan(code=kel.code, name=kel.name, kecamatan_code=kel.kecamatan_code))
    session.flush()
    for new in config.regions.tps:
        session.merge(
            Tps(
                code=new.code,
                kelurahan_code=new.kelurahan_code,
                number=new.number,
                dpt=new.dpt,
                special=new.special,
                name=new.name,
            )
        )
    session.flush()
    session.execute(delete(OfficialResult).where(OfficialResult.tps_code.not_in(new_tps)))
    for gone in session.scalars(select(Tps).where(Tps.code.not_in(new_tps))):
        session.delete(gone)
    summary = {
        "races": len(e.races),
        "kecamatan": len(config.regions.kecamatan),
        "kelurahan": len(config.regions.kelurahan),
        "tps": len(config.regions.tps),
        "dpt": sum(t.dpt for t in config.regions.tps),
    }
    session.add(Event(actor_id=actor, kind="election_imported", detail=summary))
    return summary


def races(session: Session) -> list[Race]:
    return list(session.scalars(select(Race).order_by(Race.position)))


def race_ids(session: Session) -> list[str]:
    return [r.id for r in races(session)]


def check_race(session: Session, race: str) -> str:
    ids = race_ids(session)
    if race not in ids and race != ALL_RACES:
        raise Invalid(
            f"pemilihan '{race[:40]}' tidak dikenal; pilih {ids + [ALL_RACES]}",
        )
    return race


def tps_info(session: Session, code: str) -> dict[str, Any] | None:
    row = session.execute(
        select(Tps, Kelurahan, Kecamatan)
        .join(Kelurahan, Kelurahan.code == Tps.kelurahan_code)
        .join(Kecamatan, Kecamatan.code == Kelurahan.kecamatan_code)
        .where(Tps.code == code)
    ).first()
    if row is None:
        return None
    t, kel, kec = row
    return {
        "code": t.code,
        "number": t.number,
        "name": t.name,
        "dpt": t.dpt,
        "special": t.special,
        "kelurahan": kel.name,
        "kelurahan_code": kel.code,
        "kecamatan": kec.name,
        "kecamatan_code": kec.code,
    }


def election_info(session: Session) -> dict[str, Any]:
    row = session.get(ElectionRow, 1)
    if row is None:
        raise NotFound("belum ada data pemilihan; admin perlu mengimpornya")
    rs = races(session)
    forms = [{"id": ALL_RACES, "label": "Blanko pemantauan (semua pemilihan)"}] + [
        {"id": r.id, "label": f"C.HASIL-KWK {r.id.title()}"} for r in rs
    ]
    return {
        "name": row.name,
        "region": row.region,
        "date": row.date,
        "races": [{"id": r.id, "name": r.name, "paslon": r.paslon} for r in rs],
        "forms": forms,
    }
