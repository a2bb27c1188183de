"""The dashboard's arithmetic and tables, apart from Streamlit so they are tested plainly.

Numbers are shown the Indonesian way ("12.345", "45,6 %"); times in WIB (Asia/Jakarta).
Only verified figures go into totals and shares; the unverified count stays apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from sipantau.review_ui.clock import to_wib

LEVEL_BELOW = {"kota": "kecamatan", "kecamatan": "kelurahan", "kelurahan": "tps"}
LEVEL_LABELS = {"kota": "Kota", "kecamatan": "Kecamatan", "kelurahan": "Kelurahan", "tps": "TPS"}
STATE_LABELS = {"missing": "belum masuk", "retake": "foto harus diulang"}


def fmt_int(n: int | None) -> str:
    """`12345` -> `"12.345"` (thousands separated by a dot); `None` -> `"-"`."""
    return "-" if n is None else f"{n:,}".replace(",", ".")


def fmt_signed(n: int | None) -> str:
    """A difference with its sign: `+12`, `-1.234`, `0`."""
    if n is None:
        return "-"
    return ("+" if n > 0 else "") + fmt_int(n)


def fmt_pct(share: float | None, digits: int = 1) -> str:
    """`45.61` -> `"45,6 %"` (decimal comma)."""
    return "-" if share is None else f"{share:.{digits}f} %".replace(".", ",")


def shares(votes: Sequence[int]) -> list[float | None]:
    """Each paslon's share of the votes counted, in percent; `None` while nothing is counted."""
    total = sum(votes)
    return [100.0 * v / total if total else None for v in votes]


def paslon_frame(paslon: Sequence[str], votes: Sequence[int]) -> pd.DataFrame:
    """One row a paslon: name, votes, share (percent); for the bar chart and its table."""
    pct = shares(votes)
    return pd.DataFrame(
        {
            "Paslon": list(paslon),
            "Suara": [int(v) for v in votes],
            "Persen": [round(p, 2) if p is not None else 0.0 for p in pct],
        }
    )


@dataclass(frozen=True)
class Coverage:
    """Where the TPS reports of one region stand (the `total` of `GET /coverage`)."""

    tps_total: int
    received: int
    verified: int
    in_review: int
    retake: int
    missing: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Coverage:
        return cls(*(int(row.get(k) or 0) for k in cls.__dataclass_fields__))

    @property
    def verified_share(self) -> float:
        """Share of TPS verified, 0..1, for the progress bar."""
        return self.verified / self.tps_total if self.tps_total else 0.0

    def progress_text(self) -> str:
        return (
            f"{fmt_int(self.verified)} dari {fmt_int(self.tps_total)} TPS terverifikasi "
            f"({fmt_pct(100 * self.verified_share)})"
        )


NO_DATA = "belum ada data"


def not_verified(row: dict[str, Any]) -> int:
    """TPS of a region not verified yet, whatever the reason: missing, in review, retake."""
    return int(row.get("tps_total") or 0) - int(row.get("tps_verified") or 0)


def region_frame(results: dict[str, Any], coverage: dict[str, Any] | None) -> pd.DataFrame:
    """The rows of one drill-down level: verified votes per paslon and where its TPS stand.
    A region with no verified TPS has no votes (NA, shown as "belum ada data"), never 0."""
    paslon = list(results.get("paslon", []))
    cov = {r["code"]: r for r in (coverage or {}).get("rows", [])}
    out = []
    for row in results.get("rows", []):
        item: dict[str, Any] = {"Kode": row["code"], "Wilayah": row["name"]}
        counted = int(row.get("tps_verified") or 0) > 0
        for name, v in zip(paslon, row["votes"], strict=False):
            item[name] = int(v) if counted else None
        item["Suara sah"] = int(row.get("suara_sah") or 0) if counted else None
        item["TPS"] = int(row.get("tps_total") or 0)
        item["Terverifikasi"] = int(row.get("tps_verified") or 0)
        item["Belum terverifikasi"] = not_verified(row)
        item["Sedang diperiksa"] = int(row.get("tps_unverified") or 0)
        c = cov.get(row["code"])
        if c is not None:
            item["Foto diulang"] = int(c.get("retake") or 0)
            item["Belum masuk"] = int(c.get("missing") or 0)
        out.append(item)
    frame = pd.DataFrame(out)
    for col in [*paslon, "Suara sah"]:
        if col in frame.columns:
            frame[col] = frame[col].astype("Int64")  # nullable: NA where nothing is verified
    return frame


def shown_regions(frame: pd.DataFrame, paslon: Sequence[str]) -> pd.DataFrame:
    """The drill-down table as shown: votes as "12.345", and "belum ada data" where no TPS
    of the region is verified (st.dataframe draws a missing number as "None")."""
    out = frame.copy()
    for col in [*paslon, "Suara sah"]:
        if col in out.columns:
            out[col] = [NO_DATA if pd.isna(v) else fmt_int(int(v)) for v in out[col]]
    return out


def missing_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """`GET /coverage/missing` items as a table, by kecamatan, kelurahan and TPS number."""
    rows = [
        {
            "Kecamatan": i.get("kecamatan", ""),
            "Kelurahan": i.get("kelurahan", ""),
            "TPS": f"{int(i.get('number') or 0):03d}",
            "Kode": i.get("tps", ""),
            "Keadaan": STATE_LABELS.get(i.get("state", ""), i.get("state", "")),
        }
        for i in items
    ]
    frame = pd.DataFrame(rows, columns=["Kecamatan", "Kelurahan", "TPS", "Kode", "Keadaan"])
    return frame.sort_values(["Kecamatan", "Kelurahan", "TPS"], ignore_index=True)


def timeline_frame(items: list[dict[str, Any]], bucket_min: int = 15) -> pd.DataFrame:
    """Cumulative reports received and forms verified over time (WIB), indexed by bucket;
    it starts from zero one bucket before the first, so even one bucket draws a line."""
    cols = ["Diterima", "Terverifikasi"]
    if not items:
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], name="Waktu (WIB)"))
    ordered = sorted(items, key=lambda i: i["at"])
    times = [to_wib(i["at"]) for i in ordered]
    frame = pd.DataFrame(
        {
            "Diterima": [0] + [int(i.get("received") or 0) for i in ordered],
            "Terverifikasi": [0] + [int(i.get("verified") or 0) for i in ordered],
        },
        index=pd.DatetimeIndex(
            [times[0] - timedelta(minutes=bucket_min), *times], name="Waktu (WIB)"
        ),
    )
    return frame.cumsum()
