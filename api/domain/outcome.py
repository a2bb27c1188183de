"""What a reading means for its submission: flags, a values version, verified or review,
and which older photo it supersedes. Runs inside the transaction that finishes the job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sipantau.api.domain.corrections import corrected_fields, describe
from sipantau.api.domain.rules import ALL_RACES, RaceFields, problems, race_fields
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
from sipantau.ocr.types import FormReading
from sipantau.templates.model import Template

LIVE = ("queued", "reading", "review", "verified", "sent_back")


@dataclass(frozen=True)
class Flag:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


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


def field_export(reading: FormReading) -> dict[str, Any]:
    """The reader's fields with each field's box on the aligned page."""
    out: dict[str, Any] = {}
    for name, f in reading.fields.items():
        d = f.export()
        d["kind"] = f.kind
        if f.boxes:
            xs = [b.box[0] for b in f.boxes] + [b.box[0] + b.box[2] for b in f.boxes]
            ys = [b.box[1] for b in f.boxes] + [b.box[1] + b.box[3] for b in f.boxes]
            d["box"] = [int(min(xs)), int(min(ys)), int(max(xs) - min(xs)), int(max(ys) - min(ys))]
        out[name] = d
    return out


def _mixups(
    session: Session, sub: Submission, reading: FormReading, template: Template | None
) -> list[Flag]:
    flags = []
    if reading.tps and reading.tps != sub.tps_code:
        flags.append(
            Flag(
                "qr_mismatch",
                f"kode QR pada formulir menunjuk TPS {reading.tps}, "
                f"tetapi foto dikirim untuk TPS {sub.tps_code}",
            )
        )
    if template is not None:
        if sub.race == ALL_RACES and template.race is not None:
            flags.append(
                Flag("wrong_form", f"dikirim sebagai blanko, tetapi formulirnya {template.title}")
            )
        elif sub.race != ALL_RACES and template.race not in (None, sub.race):
            flags.append(
                Flag(
                    "wrong_form",
                    f"formulir untuk pemilihan {template.race}, dikirim untuk {sub.race}",
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
        what = "foto yang sama" if code == "duplicate_photo" else "foto yang hampir sama"
        flags.append(
            Flag(code, f"{what} juga dikirim untuk TPS {other.tps_code} (kiriman #{other.id})")
        )
        add_flag(
            session,
            other,
            Flag(code, f"{what} juga dikirim untuk TPS {sub.tps_code} (kiriman #{sub.id})"),
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
        older.status, older.superseded_by = "superseded", newer.id
        session.add(Event(submission_id=older.id, kind="superseded", detail={"by": newer.id}))


def _reader_reason(fields: dict[str, Any], template: Template) -> str:
    """The first version's reason: read by the machine, naming any machine correction."""
    fixed = corrected_fields(fields)
    if not fixed:
        return "dibaca mesin"
    return "dibaca mesin; " + describe(fixed, {f.name: f.label for f in template.fields})


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
    fields = field_export(reading)
    session.add(
        Reading(
            submission_id=sub.id,
            job_id=job_id,
            worker=worker,
            template=reading.template,
            status=reading.status,
            reasons=list(reading.reasons),
            fields=fields,
            qr_tps=reading.tps,
            ms=round(reading.ms, 1),
        )
    )
    sub.template = reading.template
    if reading.status == "rejected" or template is None:
        sub.status = "rejected"
        session.add(
            Event(submission_id=sub.id, kind="rejected", detail={"reasons": reading.reasons})
        )
        return
    for flag in _mixups(session, sub, reading, template) + _duplicates(
        session, sub, photo, max_distance
    ):
        add_flag(session, sub, flag)
    tps = session.get(Tps, sub.tps_code)
    assert tps is not None
    values = {name: f["value"] for name, f in fields.items()}
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
