"""Verified results per TPS as CSV or XLSX, for leadership and the KPU comparison."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipantau.api.domain.corrections import machine_corrected
from sipantau.api.domain.tally import tps_states
from sipantau.api.domain.wording import label_map
from sipantau.api.infra.models import Submission
from sipantau.templates.registry import all_templates

STATE_LABEL = {
    "verified": "terverifikasi",
    "in_review": "diperiksa",
    "retake": "foto ulang",
    "missing": "belum masuk",
}


def rows(session: Session, race: str) -> list[list[object]]:
    r, states = tps_states(session, race)
    header: list[object] = [
        "kecamatan",
        "kelurahan",
        "tps",
        "dpt",
        "status",
        *[f"suara_{i + 1} ({name})" for i, name in enumerate(r.paslon)],
        "suara_sah",
        "suara_tidak_sah",
        "pengguna_hak_pilih",
        "kiriman",
        "terverifikasi_pada",
        "dikoreksi_mesin",
    ]
    out = [header]
    fixed = _corrected_labels(session, [s.submission for s in states if s.state == "verified"])
    for s in states:
        done = s.state == "verified"
        out.append(
            [
                s.kecamatan[1],
                s.kelurahan[1],
                s.code,
                s.dpt,
                STATE_LABEL[s.state],
                *(s.votes if done else [""] * len(r.paslon)),
                s.suara_sah if done else "",
                s.suara_tidak_sah if done else "",
                s.pemilih if done else "",
                s.submission or "",
                s.verified_at or "",
                fixed.get(s.submission or 0, "") if done else "",
            ]
        )
    return out


def _corrected_labels(session: Session, ids: list[int | None]) -> dict[int, str]:
    """Per verified submission, the labels of the fields the machine corrected ('' if none)."""
    fixed = machine_corrected(session, [i for i in ids if i is not None])
    templates = all_templates()
    out = {}
    for sub in session.scalars(select(Submission).where(Submission.id.in_(list(fixed)))):
        t = templates.get(sub.template or "")
        labels = label_map(t) if t else {}
        out[sub.id] = "; ".join(labels.get(n, n) for n in fixed[sub.id])
    return out


def _safe(cell: object) -> object:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def to_csv(table: list[list[object]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in table:
        writer.writerow([_safe(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def to_xlsx(table: list[list[object]], title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    for row in table:
        ws.append([_safe(c) for c in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
