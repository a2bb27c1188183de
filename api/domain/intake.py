"""Taking an upload: check it is an image, store it durably, queue it once (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sipantau.api.domain.auth import Principal
from sipantau.api.domain.directory import check_race
from sipantau.api.domain.errors import (
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    TooLarge,
    Unsupported,
    forbidden,
)
from sipantau.api.infra import dispatch, jobs
from sipantau.api.infra.context import Context
from sipantau.api.infra.db import transaction
from sipantau.api.infra.models import Event, Photo, Submission, Tps
from sipantau.api.infra.storage import sha256_of
from sipantau.ocr.decode import probe
from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.settings import DecodeSettings

KIND_OF: dict[str, type[DomainError]] = {"not_an_image": Unsupported, "too_large": TooLarge}


@dataclass(frozen=True)
class Accepted:
    submission_id: int
    created: bool


def check_image(data: bytes, max_bytes: int) -> tuple[str, int, int]:
    """Format and size from the header; a typed refusal for anything that is not a photo."""
    try:
        fmt, w, h, _ = probe(data, DecodeSettings(max_bytes=max_bytes))
    except PhotoRejected as exc:
        raise KIND_OF.get(exc.code, Invalid)(exc.message, code=exc.code) from exc
    return fmt, w, h


def _existing(session: Session, tps: str, race: str, sha: str) -> Submission | None:
    return session.scalar(
        select(Submission).where(
            Submission.tps_code == tps, Submission.race == race, Submission.photo_sha == sha
        )
    )


def accept(
    ctx: Context, user: Principal, tps: str, race: str, data: bytes, client_id: str | None
) -> Accepted:
    """Store the photo, then its row and job in one transaction; the same photo again is a no-op."""
    fmt, w, h = check_image(data, ctx.settings.max_upload_bytes)
    sha = sha256_of(data)
    with transaction(ctx.sessions) as s:
        if s.get(Tps, tps) is None:
            raise NotFound(f"TPS {tps[:40]} tidak ada dalam data pemilihan")
        if user.role == "monitor" and tps not in user.tps:
            raise forbidden(f"Anda bukan pemantau TPS {tps}")
        check_race(s, race)
        old = _existing(s, tps, race, sha)
    if old is not None:
        ctx.store.put(data)  # checks the stored copy: the same bytes again repair a damaged one
        return Accepted(old.id, False)
    ctx.store.put(data)  # durable before the row that points at it
    for _ in range(3):
        try:
            with transaction(ctx.sessions) as s:
                old = _existing(s, tps, race, sha)
                if old is not None:
                    return Accepted(old.id, False)
                if s.get(Photo, sha) is None:
                    s.add(Photo(sha256=sha, size=len(data), format=fmt, width=w, height=h))
                    s.flush()
                sub = Submission(
                    tps_code=tps,
                    race=race,
                    photo_sha=sha,
                    client_id=(client_id or "")[:64] or None,
                    submitted_by=user.id,
                    status="queued",
                    flags=[],
                )
                s.add(sub)
                s.flush()
                job_id = jobs.enqueue(s, sub.id).id
                s.add(
                    Event(
                        submission_id=sub.id,
                        actor_id=user.id,
                        kind="uploaded",
                        detail={"bytes": len(data), "format": fmt, "size": [w, h]},
                    )
                )
        except IntegrityError:
            continue  # a concurrent identical upload won the race; look again
        # Committed: the upload is durable and its job recorded. A lost message only delays it.
        dispatch.publish(ctx.settings, job_id)
        return Accepted(sub.id, True)
    raise Conflict("kiriman bersamaan untuk foto yang sama; coba lagi")
