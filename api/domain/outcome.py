"""What a reading means for its submission: flags, a values version, verified or review,
and which older photo it supersedes. Runs inside the transaction that finishes the job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sipantau.api.domain.corrections import corrected_fields, describe
from sipantau.api.domain.rules import ALL_RACES, RaceFields, problems, race_fields
from sipantau.api.domain.wording import label_map
from sipantau.api.infra.models import (
    Event,
    FormValues,
    Photo,
    Race,
    Reading,
    Submission,
    Tps,
    utcnow,
)
from sipantau.ocr.types import FormReading, Reason
from sipantau.templates.model import Template

LIVE = ("queued", "reading", "review", "verified", "sent_back")


@dataclass(frozen=True)
class Flag:
    """Why a form needs a person; `submission` links the other half of a pair (a duplicate),
    `race` the form the photo really shows (a wrong form)."""

    code: str
    message: str
    submission: int | None = None
    race: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.submission is not None:
            out["submission"] = self.submission
        if self.race is not None:
            out["race"] = self.race
        return out


def add_flag(session: Session, sub: Submission, flag: Flag, actor: int | None = None) -> None:
    """Flag a submission; one the system had verified goes back to review."""
    if any(f.get("code") == flag.code and f.get("message") == flag.message for f in sub.flags):
        return
    sub.flags = [*sub.flags, flag.as_dict()]
    session.add(Event(submission_id=sub.id, actor_id=actor, kind="flagged", detail=flag.as_dict()))
    if sub.status == "verified" and sub.verified_by is None:
        sub.status, sub.verified_at = "review", None
        session.add(Event(submission_id=sub.id, kind="unverified", detail=flag.as_dict()))


def fields_for(session: Session, template: Template, race: str) -> list[RaceFields]:
    """The race blocks a submission for `race` (`semua`: every race) has on `template`."""
    races = session.scalars(select(Race).order_by(Race.position)).all()
    out = []
    for r in races:
        if race in (r.id, ALL_RACES):
            rf = race_fields(template, r.id, r.short, len(r.paslon))
            if rf is not None:
                out.append(rf)
    return out


def form_label(race: str) -> str:
    """How the monitor page names the form sent for `race`."""
    return "blanko pemantauan" if race == ALL_RACES else f"C.HASIL-KWK {race.title()}"


def _wrong_form(sub: Submission, template: Template) -> Flag | None:
    """The photo shows another form than the one chosen (a blanko covers every race)."""
    shown = template.race or ALL_RACES
    if shown == ALL_RACES and sub.race != ALL_RACES:
        return None
    if shown == sub.race:
        return None
    return Flag(
        "wrong_form",
        f"foto ini {form_label(shown)}, bukan {form_label(sub.race)}: pilih formulir "
        f"\u201c{form_label(shown)}\u201d lalu kirim lagi, atau foto {form_label(sub.race)}",
        race=shown,
    )


def _mixups(sub: Submission, reading: FormReading) -> list[Flag]:
    flags = []
    if reading.tps and reading.tps != sub.tps_code:
        flags.append(
            Flag(
                "qr_mismatch",
                f"kode QR pada formulir menunjuk TPS {reading.tps}, "
                f"tetapi foto dikirim untuk TPS {sub.tps_code}",
            )
        )
    return flags


def _duplicates(session: Session, sub: Submission, photo: Photo, max_distance: int) -> list[Flag]:
    """The same photo, or one nearly identical, sent for another TPS."""
    same = session.scalars(
        select(Submission).where(
            Submission.photo_sha == sub.photo_sha, Submission.tps_code != sub.tps_code
        )
    ).all()
    found = [(s, "duplicate_photo") for s in same]
    if photo.phash is not None:
        near = session.execute(
            select(Submission, Photo.phash)
            .join(Photo, Photo.sha256 == Submission.photo_sha)
            .where(
                Submission.tps_code != sub.tps_code,
                Photo.sha256 != photo.sha256,
                or_(
                    Photo.band0 == photo.band0,
                    Photo.band1 == photo.band1,
                    Photo.band2 == photo.band2,
                    Photo.band3 == photo.band3,
                ),
            )
        ).all()
        found += [
            (s, "similar_photo")
            for s, ph in near
            if ph is not None and bin((ph ^ photo.phash) & (2**64 - 1)).count("1") <= max_distance
        ]
    flags = []
    for other, code in found:
        # The later upload is the suspect one: an earlier (perhaps verified) form stays counted.
        newer, older = (sub, other) if sub.id > other.id else (other, sub)
        what = "foto yang sama" if code == "duplicate_photo" else "foto yang hampir sama"
        flag = Flag(
            code,
            f"{what} sudah dikirim untuk TPS {older.tps_code} (kiriman #{older.id})",
            submission=older.id,
        )
        if newer is sub:
            flags.append(flag)
        else:
            add_flag(session, newer, flag)
        session.add(
            Event(
                submission_id=older.id,
                kind="duplicate_seen",
                detail={"code": code, "submission": newer.id, "tps": newer.tps_code},
            )
        )
    return flags


def supersede_older(session: Session, sub: Submission) -> None:
    """A usable photo replaces older ones for the same TPS and race; a newer one replaces it."""
    others = session.scalars(
        select(Submission).where(
            Submission.tps_code == sub.tps_code,
            Submission.race == sub.race,
            Submission.id != sub.id,
            Submission.status.in_(LIVE),
        )
    ).all()
    for other in others:
        older, newer = (other, sub) if other.id < sub.id else (sub, other)
        if newer.status in ("queued", "reading"):
            continue  # the newer one decides when it is read
        if older.status == "verified" and newer.status != "verified":
            continue  # a counted form stays counted until a newer one is verified
        older.status, older.superseded_by = "superseded", newer.id
        session.add(Event(submission_id=older.id, kind="superseded", detail={"by": newer.id}))


WITHDRAWABLE = ("queued", "reading", "review", "verified", "sent_back", "rejected")


def withdraw(session: Session, sub: Submission, actor: int, reason: str) -> None:
    """The sender takes an upload back: it leaves the totals and the queue, kept in history.
    A verified form it had replaced counts again (as if the withdrawn photo was never sent)."""
    sub.status, sub.verified_at, sub.verified_by = "withdrawn", None, None
    sub.claimed_by = sub.claimed_until = None
    session.add(
        Event(submission_id=sub.id, actor_id=actor, kind="withdrawn", detail={"reason": reason})
    )
    older = session.scalar(
        select(Submission)
        .where(Submission.superseded_by == sub.id, Submission.verified_at.is_not(None))
        .order_by(Submission.id.desc())
        .limit(1)
    )
    if older is not None:
        older.status, older.superseded_by = "verified", None
        session.add(Event(submission_id=older.id, kind="restored", detail={"withdrawn": sub.id}))


def _reader_reason(fields: dict[str, Any], template: Template) -> str:
    """The first version's reason: read by the machine, naming any machine correction."""
    fixed = corrected_fields(fields)
    if not fixed:
        return "dibaca mesin"
    return "dibaca mesin; " + describe(fixed, label_map(template))


def _reject(session: Session, sub: Submission, reasons: list[dict[str, str]]) -> None:
    sub.status = "rejected"
    session.add(Event(submission_id=sub.id, kind="rejected", detail={"reasons": reasons}))


def record(
    session: Session,
    sub: Submission,
    job_id: int,
    worker: str,
    reading: FormReading,
    template: Template | None,
    photo: Photo,
    max_distance: int,
) -> None:
    """Store a reading and decide the submission's state (the caller holds the job's lease)."""
    fields = {name: f.export(geometry=True) for name, f in reading.fields.items()}
    reasons = [r.export() for r in reading.reasons]
    session.add(
        Reading(
            submission_id=sub.id,
            job_id=job_id,
            worker=worker,
            template=reading.template,
            status=reading.status,
            reasons=reasons,
            fields=fields,
            qr_tps=reading.tps,
            ms=round(reading.ms, 1),
        )
    )
    sub.template = reading.template
    if sub.status == "withdrawn":
        return  # withdrawn by its sender while it was read: the reading is kept, nothing else
    if reading.status == "rejected" or template is None:
        _reject(session, sub, reasons)
        return
    wrong = _wrong_form(sub, template)
    if wrong is not None:  # the monitor can fix this at once: pick the right form, send again
        add_flag(session, sub, wrong)
        _reject(session, sub, [Reason(wrong.code, wrong.message).export()])
        return
    for flag in _mixups(sub, reading) + _duplicates(session, sub, photo, max_distance):
        add_flag(session, sub, flag)
    tps = session.get(Tps, sub.tps_code)
    assert tps is not None
    values = {name: f.value for name, f in reading.fields.items()}
    found = problems(template, values, tps.dpt, fields_for(session, template, sub.race))
    session.add(
        FormValues(
            submission_id=sub.id,
            version=1,
            source="reader",
            values=values,
            problems=found,
            reason=_reader_reason(fields, template),
        )
    )
    auto = reading.status == "ok" and not found and not sub.flags
    sub.status = "verified" if auto else "review"
    if auto:
        sub.verified_at = utcnow()
    session.add(
        Event(
            submission_id=sub.id,
            kind="read",
            detail={"status": sub.status, "reader": reading.status, "ms": round(reading.ms, 1)},
        )
    )
    supersede_older(session, sub)
