"""Machine corrections: fields whose counted value is the joint decoder's, not the plain reading.

A correction is made by the reader (`FieldReading.corrected`, ocr/verdict.py) and stored in the
reading's fields; it stays visible in the history, the review screen and the exports for as long
as the reader's version of the values is the one that counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipantau.api.domain.views import latest_values_of
from sipantau.api.infra.models import Reading


def corrected_fields(fields: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[Any, Any]]:
    """{field: (plain reading, value taken)} of a reading's machine-corrected fields."""
    return {
        name: (f.get("read_value"), f.get("value"))
        for name, f in fields.items()
        if f.get("corrected")
    }


def describe(corrected: Mapping[str, tuple[Any, Any]], labels: Mapping[str, str]) -> str:
    """One line for the history: 'dikoreksi mesin: Suara sah 127 -> 120; ...'."""
    parts = [
        f"{labels.get(n, n)} {'kosong' if was is None else was} -> {now}"
        for n, (was, now) in corrected.items()
    ]
    return "dikoreksi mesin: " + "; ".join(parts)


def machine_corrected(session: Session, sub_ids: list[int]) -> dict[int, list[str]]:
    """Per submission, the fields whose counted value is still a machine correction."""
    if not sub_ids:
        return {}
    latest = latest_values_of(session, sub_ids)
    readings: dict[int, Reading] = {}
    for r in session.scalars(
        select(Reading).where(Reading.submission_id.in_(sub_ids)).order_by(Reading.id)
    ):
        readings[r.submission_id] = r  # the newest reading wins
    out: dict[int, list[str]] = {}
    for sid, fv in latest.items():
        reading = readings.get(sid)
        if fv.source != "reader" or reading is None:
            continue
        names = [n for n in corrected_fields(reading.fields) if fv.values.get(n) is not None]
        if names:
            out[sid] = names
    return out
