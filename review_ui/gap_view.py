"""The quick count against KPU's official result: tables for the gap page, tested plainly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

HIGHLIGHT = "background-color: #fde2e1"
STATE_COLUMN = "Keadaan"
SAME, DIFFERENT, UNVERIFIED = "sama", "berselisih", "belum terverifikasi"


def row_state(row: dict[str, Any]) -> str:
    """`sama`, `berselisih` (some paslon differs) or `belum terverifikasi` (no quick count)."""
    diff = row.get("diff")
    if row.get("quick") is None or diff is None:
        return UNVERIFIED
    return DIFFERENT if any(int(d) != 0 for d in diff) else SAME


def gap_frame(body: dict[str, Any], only_different: bool = False) -> pd.DataFrame:
    """One row a TPS: KPU's, our verified figure and the difference per paslon."""
    paslon: Sequence[str] = body.get("paslon", [])
    rows = []
    for r in body.get("rows", []):
        state = row_state(r)
        if only_different and state != DIFFERENT:
            continue
        item: dict[str, Any] = {
            "Kecamatan": r.get("kecamatan", ""),
            "Kelurahan": r.get("kelurahan", ""),
            "TPS": f"{int(r.get('number') or 0):03d}",
            "Kode": r.get("tps", ""),
            STATE_COLUMN: state,
        }
        quick, diff = r.get("quick"), r.get("diff")
        for i, name in enumerate(paslon):
            item[f"{name} KPU"] = int(r["official"][i])
            item[f"{name} hitung cepat"] = None if quick is None else int(quick[i])
            item[f"{name} selisih"] = None if diff is None else int(diff[i])
        rows.append(item)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        for col in frame.columns:
            if col.endswith((" hitung cepat", " selisih")):
                frame[col] = frame[col].astype("Int64")  # nullable: blank where not verified
    return frame


def highlighted(frame: pd.DataFrame) -> Any:
    """The frame styled: rows whose quick count differs from KPU's are shaded."""

    def shade(row: pd.Series) -> list[str]:
        return [HIGHLIGHT if row[STATE_COLUMN] == DIFFERENT else ""] * len(row)

    return frame.style.apply(shade, axis=1)


def count_states(body: dict[str, Any]) -> dict[str, int]:
    """How many TPS agree, differ, or have no verified quick count yet."""
    out = {SAME: 0, DIFFERENT: 0, UNVERIFIED: 0}
    for r in body.get("rows", []):
        out[row_state(r)] += 1
    return out


def csv_header(paslon_count: int) -> str:
    """The header line the official-result import expects for a race of `paslon_count`."""
    cols = ["tps", *(f"paslon_{i}" for i in range(1, paslon_count + 1))]
    return ",".join([*cols, "suara_sah", "suara_tidak_sah"])
