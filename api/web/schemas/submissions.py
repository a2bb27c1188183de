"""Submissions, their fields and history, and the review queue."""

from __future__ import annotations

from typing import Any

from sipantau.api.web.schemas.base import Out


class FieldOut(Out):
    """The reader's field (`sipantau read`'s), plus its kind and box on the aligned page."""

    value: int | None
    confidence: float
    status: str
    reasons: list[str]
    suggestion: int | None
    corrected: bool | None = None
    read_value: int | None = None
    kind: str | None = None
    box: list[int] | None = None


class FlagOut(Out):
    code: str
    message: str
    race: str | None = None  # wrong_form: the race the photo shows
    submission: int | None = None  # duplicate/similar photo: the earlier submission


class SubmissionOut(Out):
    """A submission; `fields` and `read_ms` only where one is asked for by id."""

    id: int
    tps: str
    race: str
    status: str
    photo_sha256: str
    created_at: str
    submitted_by: str | None
    template: str | None
    reasons: list[str]
    reason_codes: list[str]  # one stable code per reason (the page maps codes, never wording)
    retake: bool
    retake_race: str | None = None  # the form to photograph again (see docs/api.md)
    message: str
    flags: list[FlagOut]
    values: dict[str, int | None]
    version: int
    verified_at: str | None
    fields: dict[str, FieldOut] | None = None
    labels: dict[str, str] | None = None  # field -> its printed label, where asked for by id
    read_ms: float | None = None


class QueuedOut(SubmissionOut):
    claimed: bool


class SubmissionsOut(Out):
    items: list[SubmissionOut]


class QueueCounts(Out):
    waiting: int
    in_review: int
    done: int


class QueueOut(Out):
    counts: QueueCounts
    items: list[QueuedOut]


class VersionOut(Out):
    version: int
    at: str
    by: str | None
    source: str
    values: dict[str, int | None]
    problems: list[str]
    reason: str | None


class EventOut(Out):
    at: str
    by: str | None
    kind: str
    detail: dict[str, Any] | None


class HistoryOut(Out):
    values: list[VersionOut]
    events: list[EventOut]


class FieldCheckOut(Out):
    status: str
    reasons: list[str]
    rules: list[str]


class CheckOut(Out):
    ok: bool
    reasons: list[str]
    fields: dict[str, FieldCheckOut]
