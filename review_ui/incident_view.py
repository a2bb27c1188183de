"""Situation reports as tables: every report newest first, and a count per TPS."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sipantau.review_ui.clock import wib_text

SOURCES = {"pemantau": "laporan", "blanko": "ditandai pada blanko"}
LIST_COLUMNS = [
    "Waktu",
    "Kecamatan",
    "Kelurahan",
    "TPS",
    "Jenis",
    "Catatan",
    "Sumber",
    "Oleh",
]


def incident_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """Every report, newest first, with where, what and who."""
    ordered = sorted(items, key=lambda i: i.get("at") or "", reverse=True)
    rows = [
        {
            "Waktu": wib_text(i.get("at")),
            "Kecamatan": i.get("kecamatan", ""),
            "Kelurahan": i.get("kelurahan", ""),
            "TPS": f"{int(i.get('number') or 0):03d}",
            "Jenis": i.get("label") or i.get("kind", ""),
            "Catatan": i.get("note", ""),
            "Sumber": SOURCES.get(i.get("source", ""), i.get("source", "")),
            "Oleh": i.get("by") or "",
        }
        for i in ordered
    ]
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def per_tps_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """One row a TPS with reports: how many, of which kinds, the latest time; most first."""
    by_tps: dict[str, dict[str, Any]] = {}
    for i in items:
        row = by_tps.setdefault(
            i["tps"],
            {
                "Kecamatan": i.get("kecamatan", ""),
                "Kelurahan": i.get("kelurahan", ""),
                "TPS": f"{int(i.get('number') or 0):03d}",
                "Kode": i["tps"],
                "Laporan": 0,
                "Jenis": [],
                "_at": "",
            },
        )
        row["Laporan"] += 1
        label = i.get("label") or i.get("kind", "")
        if label not in row["Jenis"]:
            row["Jenis"].append(label)
        row["_at"] = max(row["_at"], i.get("at") or "")
    rows = sorted(by_tps.values(), key=lambda r: r["_at"], reverse=True)  # newest first,
    rows.sort(key=lambda r: -r["Laporan"])  # then (stable) the TPS with most reports first
    out = [
        {
            **{k: v for k, v in r.items() if not k.startswith("_")},
            "Jenis": ", ".join(r["Jenis"]),
            "Terakhir": wib_text(r["_at"]),
        }
        for r in rows
    ]
    cols = ["Kecamatan", "Kelurahan", "TPS", "Kode", "Laporan", "Jenis", "Terakhir"]
    return pd.DataFrame(out, columns=cols)
