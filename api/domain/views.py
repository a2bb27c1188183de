"""How submissions look over the API (the `Submission` object of docs/api.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipantau.api.domain.wording import label_map
from sipantau.api.infra.models import Event, FormValues, Reading, Submission, User
from sipantau.ocr.types import Reason
from sipantau.templates.registry import all_templates

MESSAGES = {
    "queued": "Foto diterima, menunggu dibaca",
    "reading": "Foto sedang dibaca",
    "review": "Foto diterima; angka akan diperiksa petugas posko",
    "verified": "Terverifikasi: angka sudah masuk hitungan",
    "withdrawn": "Ditarik oleh pengirim; tidak dihitung",
}


def latest_values(session: Session, sub_id: int) -> FormValues | None:
    return session.scalar(
        select(FormValues)
        .where(FormValues.submission_id == sub_id)
        .order_by(FormValues.version.desc())
        .limit(1)
    )


def latest_reading(session: Session, sub_id: int) -> Reading | None:
    return session.scalar(
        select(Reading).where(Reading.submission_id == sub_id).order_by(Reading.id.desc()).limit(1)
    )


def _last_event(session: Session, sub_id: int, kind: str) -> Event | None:
    return session.scalar(
        select(Event)
        .where(Event.submission_id == sub_id, Event.kind == kind)
        .order_by(Event.id.desc())
        .limit(1)
    )


def latest_values_of(session: Session, ids: list[int]) -> dict[int, FormValues]:
    """The newest values version of each submission, in a few queries whatever their number."""
    out: dict[int, FormValues] = {}
    for chunk in range(0, len(ids), 500):
        for fv in session.scalars(
            select(FormValues).where(FormValues.submission_id.in_(ids[chunk : chunk + 500]))
        ):
            if fv.submission_id not in out or out[fv.submission_id].version < fv.version:
                out[fv.submission_id] = fv
    return out


def submission_views(session: Session, subs: list[Submission]) -> list[dict[str, Any]]:
    """Summaries (no fields) of many submissions, without a query per row."""
    values = latest_values_of(session, [s.id for s in subs])
    rejected = [s.id for s in subs if s.status == "rejected"]
    readings: dict[int, Reading] = {}
    if rejected:
        for r in session.scalars(
            select(Reading).where(Reading.submission_id.in_(rejected)).order_by(Reading.id)
        ):
            readings[r.submission_id] = r  # ordered by id: the newest wins
    names = dict(
        session.execute(
            select(User.id, User.username).where(User.id.in_({s.submitted_by for s in subs}))
        )
        .tuples()
        .all()
    )
    return [
        _view(session, s, readings.get(s.id), values.get(s.id), names.get(s.submitted_by), False)
        for s in subs
    ]


def submission_view(session: Session, sub: Submission, detail: bool = True) -> dict[str, Any]:
    reading = latest_reading(session, sub.id) if detail or sub.status == "rejected" else None
    user = session.get(User, sub.submitted_by)
    values = latest_values(session, sub.id)
    return _view(session, sub, reading, values, user.username if user else None, detail)


def _view(
    session: Session,
    sub: Submission,
    reading: Reading | None,
    values: FormValues | None,
    username: str | None,
    detail: bool,
) -> dict[str, Any]:
    reasons: list[str] = []
    codes: list[str] = []
    if reading is not None and sub.status == "rejected":
        if reading.status == "rejected":  # else: refused after reading (a wrong form, a flag)
            typed = [Reason.of(r) for r in reading.reasons]
            reasons = [r.message for r in typed]
            codes = [r.code for r in typed]
    elif values is not None:
        reasons = list(values.problems)
        codes = ["rule"] * len(reasons)
    reasons += [f["message"] for f in sub.flags]
    codes += [str(f.get("code", "")) for f in sub.flags]
    shown = next((f["race"] for f in sub.flags if f.get("code") == "wrong_form"), None)
    message = MESSAGES.get(sub.status, "")
    if sub.status == "rejected":
        message = "Foto ditolak: " + ("; ".join(reasons) or "tidak dapat dibaca")
    elif sub.status == "sent_back":
        ev = _last_event(session, sub.id, "sent_back")
        message = (
            "Dikembalikan oleh petugas posko: " + str(ev.detail.get("reason", "")) if ev else ""
        )
    elif sub.status == "superseded":
        message = f"Diganti oleh kiriman #{sub.superseded_by}"
    out: dict[str, Any] = {
        "id": sub.id,
        "tps": sub.tps_code,
        "race": sub.race,
        "status": sub.status,
        "photo_sha256": sub.photo_sha,
        "created_at": sub.created_at.isoformat(),
        "submitted_by": username,
        "template": sub.template,
        "reasons": reasons,
        "reason_codes": codes,
        "retake": sub.status in ("rejected", "sent_back"),
        "retake_race": shown or sub.race,
        "message": message,
        "flags": list(sub.flags),
        "values": dict(values.values) if values else {},
        "version": values.version if values else 0,
        "verified_at": sub.verified_at.isoformat() if sub.verified_at else None,
    }
    if detail:
        out["fields"] = dict(reading.fields) if reading else {}
        out["read_ms"] = reading.ms if reading else None
        template = all_templates().get(sub.template or "")
        out["labels"] = label_map(template) if template else {}
    return out
