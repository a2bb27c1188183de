"""Antrean periksa: forms waiting for a reviewer, oldest first, and "take the next one"."""

from __future__ import annotations

from typing import Any

import streamlit as st

from sipantau.review_ui import review_logic as logic
from sipantau.review_ui.client import ApiFailure
from sipantau.review_ui.clock import wib_text
from sipantau.review_ui.session import api, show_failure

ALL = "Semua"


@st.cache_data(ttl=600, show_spinner=False)
def _choices(token: str) -> tuple[dict[str, str], dict[str, str]]:
    """Races and kecamatan (id -> name) for the filters; cached per login for 10 minutes."""
    client = api()
    races = {r["id"]: r["name"] for r in client.get("/election")["races"]}
    first = next(iter(races), None)
    rows = client.get("/coverage", race=first, level="kecamatan")["rows"] if first else []
    return races, {r["code"]: r["name"] for r in rows}


def _filters() -> tuple[str | None, str | None]:
    races, kecamatan = _choices(st.session_state.get("token", ""))
    left, right = st.columns(2)
    kec = left.selectbox(
        "Kecamatan", [ALL, *kecamatan], format_func=lambda c: kecamatan.get(c, c), key="q_kec"
    )
    race = right.selectbox(
        "Pemilihan", [ALL, *races], format_func=lambda r: races.get(r, r), key="q_race"
    )
    chosen = (None if kec == ALL else kec, None if race == ALL else race)
    st.session_state["queue_filter"] = chosen
    return chosen


def _table(items: list[dict[str, Any]], races: dict[str, str]) -> None:
    if not items:
        st.info("Tidak ada formulir yang menunggu diperiksa.")
        return
    rows = [
        {
            "#": s["id"],
            "TPS": s["tps"],
            "pemilihan": logic.race_label(s["race"], races),
            "diterima": wib_text(s["created_at"]),
            "sedang diperiksa": "ya" if s.get("claimed") else "",
            "alasan": "; ".join(map(logic.plain_reason, s.get("reasons") or [])),
        }
        for s in items
    ]
    st.dataframe(rows, hide_index=True, width="stretch")


def _take(kecamatan: str | None, race: str | None) -> None:
    try:
        sub = logic.claim_next(api(), kecamatan, race)
    except ApiFailure as exc:
        show_failure(exc)
        return
    if sub is None:
        st.info("Antrean kosong: tidak ada formulir yang bisa diambil.")
        return
    st.session_state["claimed_id"] = sub["id"]
    st.switch_page("app_pages/review.py")


def main() -> None:
    st.title("Antrean periksa")
    try:
        kecamatan, race = _filters()
        queue = api().get("/review/queue", kecamatan=kecamatan, race=race, limit=200)
    except ApiFailure as exc:
        show_failure(exc)
        return
    counts = queue["counts"]
    a, b, c = st.columns(3)
    a.metric("Menunggu", counts["waiting"])
    b.metric("Sedang diperiksa", counts["in_review"])
    c.metric("Selesai", counts["done"])
    if st.button(
        "Ambil formulir berikutnya", type="primary", shortcut="Alt+N", icon=":material/play_arrow:"
    ):
        _take(kecamatan, race)
    st.caption("Pintasan: Alt+N mengambil formulir berikutnya (terlama lebih dulu).")
    _table(queue["items"], _choices(st.session_state.get("token", ""))[0])


main()
