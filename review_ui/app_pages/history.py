"""Riwayat formulir: every version of a form's values (who, when, why, what changed) and
every event, so a number on the dashboard can be traced back to the photo and the people."""

from __future__ import annotations

from typing import Any

import streamlit as st

from sipantau.review_ui import history_view
from sipantau.review_ui import review_logic as logic
from sipantau.review_ui.client import ApiFailure
from sipantau.review_ui.clock import wib_text
from sipantau.review_ui.session import api, show_failure


def _pick() -> int | None:
    """The form to show: typed by number, or found by TPS code (newest first)."""
    by_id, by_tps = st.columns(2)
    default = st.session_state.get("history_id") or st.session_state.get("claimed_id") or 0
    sub_id = by_id.number_input("Nomor formulir (#)", min_value=0, value=int(default), step=1)
    tps = by_tps.text_input("atau kode TPS", placeholder="mis. 1673011001-001").strip()
    if tps:
        try:
            items = api().get("/submissions", tps=tps, limit=50)["items"]
        except ApiFailure as exc:
            show_failure(exc)
            return None
        if not items:
            st.info(f"Belum ada kiriman untuk TPS {tps}.")
            return None
        chosen = st.selectbox(
            "Kiriman TPS ini",
            items,
            format_func=lambda s: (
                f"#{s['id']} · {logic.race_label(s['race'])}"
                f" · {logic.STATUS_LABELS.get(s['status'], s['status'])}"
                f" · {wib_text(s['created_at'])}"
            ),
        )
        return int(chosen["id"])
    return int(sub_id) or None


def _summary(sub: dict[str, Any]) -> None:
    status = logic.STATUS_LABELS.get(sub["status"], sub["status"])
    st.subheader(f"Formulir #{sub['id']} · TPS {sub['tps']} · {logic.race_label(sub['race'])}")
    st.caption(f"{status} · versi {sub['version']} · dikirim {sub['submitted_by']}")
    if sub.get("message"):
        st.write(sub["message"])


def main() -> None:
    st.title("Riwayat formulir")
    sub_id = _pick()
    if sub_id is None:
        st.info("Masukkan nomor formulir atau kode TPS.")
        return
    st.session_state["history_id"] = sub_id
    try:
        sub = api().get(f"/submissions/{sub_id}")
        history = api().get(f"/submissions/{sub_id}/history")
    except ApiFailure as exc:
        show_failure(exc)
        return
    _summary(sub)
    st.markdown("#### Versi angka")
    labels = sub.get("labels") or {}
    versions = history_view.version_changes(history["values"], labels)
    st.dataframe(versions, hide_index=True, width="stretch")
    st.markdown("#### Kejadian")
    events = history_view.event_rows(history["events"], labels)
    st.dataframe(events, hide_index=True, width="stretch")


main()
