"""Totals and coverage: only verified forms count; the rest is shown apart, never mixed in."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sipantau.api.domain.errors import Invalid
from sipantau.api.domain.rules import ALL_RACES, race_fields
from sipantau.api.domain.views import latest_values_of
from sipantau.api.infra.models import Event, Kecamatan, Kelurahan, Race, Submission, Tps
from sipantau.templates.registry import all_templates

LEVELS = ("kota", "kecamatan", "kelurahan", "tps")
IN_REVIEW = ("queued", "reading", "review")


@dataclass
class TpsState:
    """One TPS for one race: where its report stands and, if verified, its numbers."""

    code: str
    number: int
    dpt: int
    kelurahan: tuple[str, str]
    kecamatan: tuple[str, str]
    state: str = "missing"  # missing | in_review | verified | retake
    submission: int | None = None
    votes: list[int] = field(default_factory=list)
    suara_sah: int = 0
    suara_tidak_sah: int = 0
    pemilih: int = 0
    verified_at: str | None = None


def _race(session: Session, race: str) -> Race:
    row = session.get(Race, race)
    if row is None:
        raise Invalid(f"pemilihan '{race[:40]}' tidak dikenal")
    return row


@dataclass(frozen=True)
class RaceInfo:
    id: str
    short: str
    paslon: list[str]


_cache: OrderedDict[tuple[str, str, int], tuple[RaceInfo, list[TpsState]]] = OrderedDict()
_cache_lock = threading.Lock()


def tps_states(session: Session, race: str) -> tuple[RaceInfo, list[TpsState]]:
    """Every TPS of the election with its current report for `race`. Every change to a
    submission adds an event and none is ever deleted, so the number of events keys an exact
    per-process cache (a count, not the newest id: ids can commit out of order): a dashboard's
    several reads rebuild the states once, and never serve stale ones."""
    version = session.scalar(select(func.count(Event.id))) or 0
    key = (str(session.get_bind().engine.url), race, int(version))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    built = _build_states(session, race)
    with _cache_lock:
        _cache[key] = built
        while len(_cache) > 8:
            _cache.popitem(last=False)
    return built


def _build_states(session: Session, race: str) -> tuple[RaceInfo, list[TpsState]]:
    row = _race(session, race)
    r = RaceInfo(row.id, row.short, list(row.paslon))
    rows = session.execute(
        select(Tps, Kelurahan, Kecamatan)
        .join(Kelurahan, Kelurahan.code == Tps.kelurahan_code)
        .join(Kecamatan, Kecamatan.code == Kelurahan.kecamatan_code)
        .order_by(Tps.code)
    ).all()
    states = {
        t.code: TpsState(t.code, t.number, t.dpt, (kel.code, kel.name), (kec.code, kec.name))
        for t, kel, kec in rows
    }
    subs = session.scalars(
        select(Submission).where(Submission.race.in_((race, ALL_RACES))).order_by(Submission.id)
    ).all()
    live: dict[str, Submission] = {}
    counted: dict[str, Submission] = {}
    for s in subs:
        st = states.get(s.tps_code)
        if st is None:
            continue
        if s.status in ("rejected", "sent_back") and st.state == "missing":
            st.state = "retake"
        elif s.status not in ("rejected", "superseded", "sent_back", "withdrawn"):
            live[s.tps_code] = s  # ordered by id: the newest wins
            if s.status == "verified":
                counted[s.tps_code] = s
    live |= counted  # a verified form stays counted while a later photo waits for a person
    verified = {code: s for code, s in live.items() if s.status == "verified"}
    versions = latest_values_of(session, [s.id for s in verified.values()])
    values = {k: fv.values for k, fv in versions.items()}
    templates = all_templates()
    for code, s in live.items():
        st = states[code]
        st.submission = s.id
        if s.status in IN_REVIEW:
            st.state = "in_review"
            continue
        t = templates.get(s.template or "")
        rf = race_fields(t, race, r.short, len(r.paslon)) if t else None
        v = values.get(s.id, {})
        nums = [v.get(n) for n in (rf.paslon if rf else ())]
        if rf is None or any(x is None for x in nums):
            st.state = "in_review"  # verified but its race block is unusable: a person must look
            continue
        st.state = "verified"
        st.votes = [int(x) for x in nums if x is not None]
        st.suara_sah = int(v.get(rf.suara_sah) or 0)
        st.suara_tidak_sah = int(v.get(rf.suara_tidak_sah) or 0)
        st.pemilih = int(v.get(rf.pemilih) or 0)
        st.verified_at = s.verified_at.isoformat() if s.verified_at else None
    return r, list(states.values())


def _key(st: TpsState, level: str) -> tuple[str, str]:
    if level == "kota":
        return ("kota", "Kota")
    if level == "kecamatan":
        return st.kecamatan
    if level == "kelurahan":
        return st.kelurahan
    return (st.code, f"TPS {st.number:03d} {st.kelurahan[1]}")


def _in(st: TpsState, level: str, parent: str | None) -> bool:
    if not parent:
        return True
    return parent in (st.kecamatan[0], st.kelurahan[0])


def _grouped(
    session: Session, race: str, level: str, parent: str | None
) -> tuple[RaceInfo, dict[tuple[str, str], list[TpsState]], list[TpsState]]:
    """The TPS under `parent`, grouped by region at `level`, and all of them."""
    if level not in LEVELS:
        raise Invalid(f"level harus salah satu dari {list(LEVELS)}")
    r, states = tps_states(session, race)
    chosen = [s for s in states if _in(s, level, parent)]
    groups: dict[tuple[str, str], list[TpsState]] = defaultdict(list)
    for st in chosen:
        groups[_key(st, level)].append(st)
    return r, groups, chosen


def results(session: Session, race: str, level: str, parent: str | None) -> dict[str, Any]:
    r, groups, chosen = _grouped(session, race, level, parent)

    def row(code: str, name: str, sts: list[TpsState]) -> dict[str, Any]:
        done = [s for s in sts if s.state == "verified"]
        votes = [sum(s.votes[i] for s in done) for i in range(len(r.paslon))]
        return {
            "code": code,
            "name": name,
            "votes": votes,
            "suara_sah": sum(s.suara_sah for s in done),
            "suara_tidak_sah": sum(s.suara_tidak_sah for s in done),
            "pemilih": sum(s.pemilih for s in done),
            "tps_total": len(sts),
            "tps_verified": len(done),
            "tps_unverified": sum(s.state == "in_review" for s in sts),
        }

    return {
        "race": r.id,
        "level": level,
        "parent": parent,
        "paslon": r.paslon,
        "rows": [row(c, n, sts) for (c, n), sts in sorted(groups.items())],
        "total": row("total", "Total", chosen),
        "unverified_tps": sum(s.state == "in_review" for s in chosen),
    }


def coverage(session: Session, race: str, level: str, parent: str | None) -> dict[str, Any]:
    _, groups, chosen = _grouped(session, race, level, parent)

    def row(code: str, name: str, sts: list[TpsState]) -> dict[str, Any]:
        count = {k: sum(s.state == k for s in sts) for k in ("verified", "in_review", "retake")}
        missing = sum(s.state == "missing" for s in sts)
        return {
            "code": code,
            "name": name,
            "tps_total": len(sts),
            "received": len(sts) - missing,
            "verified": count["verified"],
            "in_review": count["in_review"],
            "retake": count["retake"],
            "missing": missing,
        }

    return {
        "race": race,
        "level": level,
        "rows": [row(c, n, sts) for (c, n), sts in sorted(groups.items())],
        "total": row("total", "Total", chosen),
    }


def timeline(session: Session, race: str, bucket_min: int) -> dict[str, Any]:
    """Per time bucket: TPS whose first photo for `race` came in it, and forms verified in it."""
    _race(session, race)
    subs = session.execute(
        select(
            Submission.tps_code, Submission.created_at, Submission.status, Submission.verified_at
        )
        .where(Submission.race.in_((race, ALL_RACES)))
        .order_by(Submission.id)
    ).all()
    step = bucket_min * 60

    def bucket(at: datetime) -> datetime:
        return datetime.fromtimestamp(at.timestamp() // step * step, tz=UTC)

    received: dict[datetime, int] = defaultdict(int)
    verified: dict[datetime, int] = defaultdict(int)
    seen: set[str] = set()
    for tps, created, status, verified_at in subs:
        if tps not in seen:
            seen.add(tps)
            received[bucket(created)] += 1
        if status == "verified" and verified_at is not None:
            verified[bucket(verified_at)] += 1
    return {
        "race": race,
        "bucket_min": bucket_min,
        "items": [
            {"at": at.isoformat(), "received": received.get(at, 0), "verified": verified.get(at, 0)}
            for at in sorted(set(received) | set(verified))
        ],
    }
