"""KPU's official result per TPS: importing its CSV, and the quick count's gap against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sipantau.api.domain import csvread
from sipantau.api.domain.csvread import Problem
from sipantau.api.domain.errors import Invalid, invalid
from sipantau.api.domain.tally import tps_states
from sipantau.api.infra.models import Event, OfficialResult, Race, Tps, utcnow

MAX_VOTES = 100_000  # far above any TPS; catches a column of DPT or a pasted total
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class OfficialRow:
    tps: str
    votes: list[int]
    suara_sah: int | None
    suara_tidak_sah: int | None


def _header(header: csvread.Row, n: int, problems: list[Problem]) -> None:
    """Problems with the header row; the file must name every paslon and nothing unknown."""
    wanted = ["tps", *(f"paslon_{i}" for i in range(1, n + 1))]
    optional = {"suara_sah", "suara_tidak_sah"}
    for c in wanted:
        if c not in header.cells:
            problems.append(Problem(line=header.line, message=f"kolom '{c}' tidak ada"))
    for c in header.cells:
        if c not in wanted and c not in optional:
            problems.append(Problem(line=header.line, message=f"kolom '{c}' tidak dikenal"))


def _number(raw: str | None, column: str, line: int, problems: list[Problem]) -> int | None:
    text = (raw or "").strip().replace(".", "")  # "1.234" as KPU writes thousands
    if not text:
        return None
    if not text.isdigit() or int(text) > MAX_VOTES:
        why = f"{column} = '{(raw or '')[:20]}' bukan angka 0-{MAX_VOTES}"
        problems.append(Problem(line=line, message=why))
        return None
    return int(text)


def _failed(problems: list[Problem]) -> Invalid:
    return invalid("; ".join(str(p) for p in problems[:MAX_PROBLEMS]))


def parse_official(data: bytes, race: Race, known_tps: set[str]) -> list[OfficialRow]:
    """Every row of KPU's CSV for `race`; raises `invalid` listing each bad line, else rows."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid("berkas bukan CSV UTF-8") from exc
    problems: list[Problem] = []
    records = csvread.rows(text, "", problems)
    header = next(records, None) or csvread.Row(1, [])
    _header(header, len(race.paslon), problems)
    if problems:
        raise _failed(problems)
    rows: list[OfficialRow] = []
    seen: set[str] = set()
    cols = [f"paslon_{i}" for i in range(1, len(race.paslon) + 1)]
    for record in records:
        line, rec = record.line, dict(zip(header.cells, record.cells, strict=False))
        before = len(problems)
        code = rec.get("tps") or ""
        if code not in known_tps:
            why = f"TPS '{code[:40]}' tidak ada dalam data pemilihan"
            problems.append(Problem(line=line, message=why))
        elif code in seen:
            problems.append(Problem(line=line, message=f"TPS {code} muncul dua kali"))
        seen.add(code)
        votes = [_number(rec.get(c), c, line, problems) for c in cols]
        if None in votes and len(problems) == before:
            problems.append(Problem(line=line, message="suara paslon tidak boleh kosong"))
        sah = _number(rec.get("suara_sah"), "suara_sah", line, problems)
        tidak = _number(rec.get("suara_tidak_sah"), "suara_tidak_sah", line, problems)
        if len(problems) >= MAX_PROBLEMS:
            break
        if not problems:
            rows.append(OfficialRow(code, [int(v or 0) for v in votes], sah, tidak))
    if problems:
        raise _failed(problems)
    if not rows:
        raise invalid("berkas tidak berisi satu baris TPS pun")
    return rows


def import_official(session: Session, race: Race, data: bytes, actor: int | None) -> int:
    """Replace `race`'s official figures with the CSV's; all or nothing."""
    known = set(session.scalars(select(Tps.code)))
    rows = parse_official(data, race, known)
    session.execute(delete(OfficialResult).where(OfficialResult.race == race.id))
    now = utcnow()
    session.add_all(
        OfficialResult(
            race=race.id,
            tps_code=r.tps,
            votes=r.votes,
            suara_sah=r.suara_sah,
            suara_tidak_sah=r.suara_tidak_sah,
            imported_at=now,
            imported_by=actor,
        )
        for r in rows
    )
    session.add(
        Event(actor_id=actor, kind="official_imported", detail={"race": race.id, "tps": len(rows)})
    )
    return len(rows)


def gap(session: Session, race: str) -> dict[str, Any]:
    """Per TPS with an official figure: ours (verified only), KPU's, and ours minus KPU's."""
    r, states = tps_states(session, race)
    official = {
        o.tps_code: o
        for o in session.scalars(select(OfficialResult).where(OfficialResult.race == race))
    }
    n = len(r.paslon)
    total_q, total_o, compared = [0] * n, [0] * n, 0
    rows = []
    for st in states:
        o = official.get(st.code)
        if o is None:
            continue
        quick = st.votes if st.state == "verified" else None
        diff = [q - v for q, v in zip(quick, o.votes, strict=True)] if quick else None
        if quick:
            compared += 1
            total_q = [a + b for a, b in zip(total_q, quick, strict=True)]
            total_o = [a + b for a, b in zip(total_o, o.votes, strict=True)]
        rows.append(
            {
                "tps": st.code,
                "number": st.number,
                "kelurahan": st.kelurahan[1],
                "kecamatan": st.kecamatan[1],
                "official": o.votes,
                "quick": quick,
                "diff": diff,
            }
        )
    imported = max((o.imported_at for o in official.values()), default=None)
    return {
        "race": r.id,
        "paslon": r.paslon,
        "imported_at": imported.isoformat() if imported else None,
        "rows": rows,
        "total": {
            "official": total_o,
            "quick": total_q,
            "diff": [q - o for q, o in zip(total_q, total_o, strict=True)],
            "tps_compared": compared,
            "tps_official": len(official),
        },
    }
