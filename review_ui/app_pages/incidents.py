"""Situation reports: incidents per TPS (reported, or ticked on a blanko), newest first.

Reviewers and admins can add one for any TPS; leadership reads.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from sipantau.review_ui import board, session
from sipantau.review_ui.client import ApiFailure
from sipantau.review_ui.incident_view import incident_frame, per_tps_frame
from sipantau.review_ui.tally_view import fmt_int

WRITERS = ("reviewer", "admin")
ALL = ""
FLASH = "incident_flash"


def regions(level: str) -> dict[str, str]:
    """Kecamatan or TPS, code -> label, from the coverage aggregate (kept an hour)."""
    races = (board.election() or {}).get("races") or [{}]
    race = races[0].get("id")
    if race is None:
        return {}
    body = board.try_get("/coverage", f"Daftar {level}", 3600.0, race=race, level=level)
    rows = (body or {}).get("rows", [])
    if level == "tps":
        return {r["code"]: f"{r['name']} ({r['code']})" for r in rows}
    return {r["code"]: r["name"] for r in rows}


def add_form(kinds: dict[str, str], tps_labels: dict[str, str]) -> None:
    """A new report for one TPS; the list below shows it at once."""
    with st.expander("Tambah laporan situasi", icon=":material/add_alert:"):
        with st.form("incident_new", clear_on_submit=True):
            tps = st.selectbox(
                "TPS",
                list(tps_labels),
                format_func=lambda c: tps_labels.get(c, c),
                index=None,
                placeholder="Ketik nama kelurahan atau nomor TPS",
                key="incident_tps",
            )
            kind = st.selectbox(
                "Jenis kejadian", list(kinds), format_func=lambda k: kinds[k], key="incident_kind"
            )
            note = st.text_area("Catatan", max_chars=1000, key="incident_note")
            sent = st.form_submit_button("Simpan laporan", type="primary")
        if not sent:
            return
        if not tps:
            st.error("Pilih TPS terlebih dahulu.")
            return
        try:
            session.api().post("/incidents", {"tps": tps, "kind": kind, "note": note})
        except ApiFailure as exc:
            board.fail("Laporan tidak tersimpan", exc)
        else:
            board.forget()
            st.session_state[FLASH] = f"Laporan untuk {tps_labels.get(tps, tps)} tersimpan."
            st.rerun()


def listing(body: dict[str, Any]) -> None:
    items = body.get("items", [])
    if not items:
        st.info("Belum ada laporan kejadian.")
        return
    per_tps = per_tps_frame(items)
    a, b = st.columns(2)
    a.metric("Laporan", fmt_int(len(items)))
    b.metric("TPS dengan laporan", fmt_int(len(per_tps)))
    st.subheader("Per TPS")
    st.dataframe(per_tps, hide_index=True)
    st.subheader("Semua laporan, terbaru di atas")
    st.dataframe(incident_frame(items), hide_index=True)


st.title("Laporan situasi")
st.caption("Kejadian yang dilaporkan pemantau atau posko, dan yang ditandai pada blanko.")
user = session.current_user() or {}
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))
kecamatan = regions("kecamatan")
kec = st.selectbox(
    "Kecamatan",
    [ALL, *kecamatan],
    format_func=lambda c: kecamatan.get(c, "Semua kecamatan"),
    key="incident_kec",
)
body = board.try_get("/incidents", "Laporan situasi", kecamatan=kec or None)
if body is not None:
    if user.get("role") in WRITERS:
        add_form(body.get("kinds", {}), regions("tps"))
    listing(body)
