"""Changing one's own password from the posko's sidebar (POST /auth/password)."""

from __future__ import annotations

import streamlit as st

from sipantau.review_ui import session
from sipantau.review_ui.client import ApiFailure


def password_expander() -> None:
    """A small form in an expander; the account's other sessions end when it succeeds."""
    with st.expander("Ganti kata sandi", icon=":material/key:"):
        with st.form("password_form", clear_on_submit=True, enter_to_submit=False):
            current = st.text_input("Kata sandi sekarang", type="password", key="pw_current")
            new = st.text_input(
                "Kata sandi baru (minimal 8 karakter)", type="password", key="pw_new"
            )
            again = st.text_input("Ulangi kata sandi baru", type="password", key="pw_again")
            submitted = st.form_submit_button("Ganti kata sandi")
        if not submitted:
            return
        if len(new) < 8:
            st.error("Kata sandi baru minimal 8 karakter.")
        elif new != again:
            st.error("Kata sandi baru dan ulangannya tidak sama.")
        else:
            body = {"current_password": current, "new_password": new}
            try:
                session.api().post("/auth/password", body)
            except ApiFailure as exc:
                session.show_failure(exc)
            else:
                st.success("Kata sandi sudah diganti; sesi di perangkat lain berakhir.")
