"""The gap between our verified quick count and KPU's official result, per TPS and in total.

The admin imports KPU's figures here (a CSV per race); TPS whose figures differ are shaded.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from sipantau.review_ui import board, session
from sipantau.review_ui.client import ApiFailure
from sipantau.review_ui.clock import wib_text
from sipantau.review_ui.gap_view import (
    DIFFERENT,
    SAME,
    UNVERIFIED,
    count_states,
    csv_header,
    gap_frame,
    highlighted,
)
from sipantau.review_ui.tally_view import fmt_int, fmt_signed


def upload(race: str, paslon: list[str]) -> None:
    """Admin only: send KPU's CSV for this race (re-importing replaces the earlier one)."""
    with st.expander("Impor hasil resmi KPU (CSV)", icon=":material/upload_file:"):
        st.caption(
            f"Satu baris per TPS. Kepala kolom: `{csv_header(len(paslon))}` "
            "(dua kolom terakhir boleh tidak ada). Impor ulang menggantikan data sebelumnya."
        )
        file = st.file_uploader("Berkas CSV", type=["csv"], key=f"gap_file_{race}")
        if st.button("Impor", type="primary", disabled=file is None, key=f"gap_import_{race}"):
            assert file is not None
            try:
                body = session.api().post(
                    "/admin/official-results",
                    params={"race": race},
                    files={"file": (file.name, file.getvalue(), "text/csv")},
                )
            except ApiFailure as exc:
                board.fail("Impor ditolak", exc)
            else:
                board.forget()
                st.success(f"{fmt_int(body['imported'])} TPS diimpor.")


def totals(body: dict[str, Any]) -> None:
    """Per paslon: our total minus KPU's, over the TPS that have both."""
    total = body["total"]
    st.caption(
        f"Dibandingkan pada {fmt_int(total['tps_compared'])} TPS yang sudah terverifikasi "
        "dan ada di data KPU."
    )
    for col, name, off, quick, diff in zip(
        st.columns(len(body["paslon"])),
        body["paslon"],
        total["official"],
        total["quick"],
        total["diff"],
        strict=True,
    ):
        col.metric(
            f"{name}: selisih",
            fmt_signed(diff),
            help="hitung cepat dikurangi KPU",
            border=True,
        )
        col.caption(f"KPU {fmt_int(off)} · hitung cepat {fmt_int(quick)}")
    states = count_states(body)
    a, b, c = st.columns(3)
    a.metric("TPS sama", fmt_int(states[SAME]))
    b.metric("TPS berselisih", fmt_int(states[DIFFERENT]))
    c.metric("TPS belum terverifikasi", fmt_int(states[UNVERIFIED]))


def per_tps(body: dict[str, Any], race: str) -> None:
    only = st.toggle("Hanya TPS yang berselisih", value=True, key=f"gap_only_{race}")
    frame = gap_frame(body, only_different=only)
    if frame.empty:
        st.success("Tidak ada TPS yang berselisih." if only else "Belum ada baris.")
        return
    st.dataframe(highlighted(frame), hide_index=True)


st.title("Selisih dengan hasil resmi KPU")
st.caption("Hitung cepat (hanya angka terverifikasi) dibandingkan dengan angka KPU per TPS.")
chosen = board.race_picker(key="gap_race")
user = session.current_user() or {}
if chosen is not None:
    race, paslon = chosen
    if user.get("role") == "admin":
        upload(race, paslon)
    body = board.try_get("/results/gap", "Selisih", race=race)
    if body is not None and body.get("imported_at") is None:
        st.info("Hasil resmi KPU untuk pemilihan ini belum diimpor.")
    elif body is not None:
        st.caption(f"Data KPU diimpor {wib_text(body['imported_at'])}.")
        totals(body)
        per_tps(body, race)
