"""The posko's screens: `streamlit run review_ui/app.py` (started by `sipantau serve`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sipantau.review_ui import session
from sipantau.review_ui.client import ApiFailure
from sipantau.review_ui.nav import pages_for
from sipantau.review_ui.password_view import password_expander

HERE = Path(__file__).parent
# Streamlit's own hint under inputs ("Press Enter to apply") is English and, in a form, wrong
# about what Enter does: the pages say their keys in Bahasa Indonesia instead.
HIDE_HINTS = "<style>[data-testid='InputInstructions'] {display: none !important;}</style>"


def login_page() -> None:
    st.title("Masuk ke posko sipantau")
    with st.form("login"):
        username = st.text_input("Nama pengguna", autocomplete="username")
        password = st.text_input("Kata sandi", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Masuk", type="primary")
    if submitted:
        try:
            session.log_in(username.strip(), password)
        except ApiFailure as exc:
            st.error(exc.message)
        else:
            st.rerun()


def main() -> None:
    st.set_page_config(
        page_title="sipantau posko", page_icon=":material/how_to_vote:", layout="wide"
    )
    st.html(HIDE_HINTS)
    user = session.current_user()
    if user is None:
        st.navigation([st.Page(login_page, title="Masuk", icon=":material/login:")]).run()
        return
    with st.sidebar:
        role = session.ROLE_LABELS.get(user["role"], user["role"])
        st.caption(f"{user['name'] or user['username']} · {role}")
        if st.button("Keluar", icon=":material/logout:"):
            session.log_out()
            st.rerun()
        password_expander()
    pages = [st.Page(HERE / p.path, title=p.title, icon=p.icon) for p in pages_for(user["role"])]
    st.navigation(pages).run()


main()
