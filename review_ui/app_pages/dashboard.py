"""Leadership dashboard: verified totals per race, coverage, drill-down, arrivals, exports.

Only verified forms count; forms still being checked are shown apart, never added in.
One `st.metric` per paslon (label: its name from the API, value: "12.345"), read by the e2e test.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

from sipantau.review_ui import board, session
from sipantau.review_ui.client import ApiFailure
from sipantau.review_ui.clock import now_text
from sipantau.review_ui.tally_view import (
    LEVEL_BELOW,
    NO_DATA,
    Coverage,
    fmt_int,
    fmt_pct,
    missing_frame,
    not_verified,
    paslon_frame,
    region_frame,
    shares,
    shown_regions,
    timeline_frame,
)

REFRESH_S = 60  # automatic refresh; each costs ~5 aggregate API calls
ALL = ""
REPORTERS = ("leadership", "admin")


def totals(results: dict[str, Any]) -> None:
    """One metric per paslon (verified votes, share), then what is not counted, apart.
    Before any TPS is verified there are no votes to show: "belum ada data", never 0."""
    paslon, total = results["paslon"], results["total"]
    counted = int(total.get("tps_verified") or 0) > 0
    pct = shares(total["votes"])
    for col, name, votes, share in zip(
        st.columns(len(paslon)), paslon, total["votes"], pct, strict=True
    ):
        with col:
            st.metric(name, fmt_int(votes) if counted else NO_DATA, border=True)
            st.caption(f"{fmt_pct(share)} suara paslon")
    a, b, c, d = st.columns(4)
    shown = fmt_int if counted else (lambda _n: NO_DATA)
    a.metric("Suara sah", shown(total["suara_sah"]))
    b.metric("Suara tidak sah", shown(total["suara_tidak_sah"]))
    c.metric("Pengguna hak pilih", shown(total["pemilih"]))
    waiting = not_verified(total)
    d.metric(
        "TPS belum terverifikasi",
        fmt_int(waiting),
        help="Semua TPS yang angkanya belum terverifikasi (belum masuk, masih diperiksa, "
        "atau harus foto ulang): tidak ikut dihitung dalam angka di atas.",
    )
    if waiting:
        st.caption(
            f"{fmt_int(waiting)} TPS belum terverifikasi, {fmt_int(results.get('unverified_tps'))}"
            " di antaranya masih diperiksa; angkanya tidak dijumlahkan sampai terverifikasi."
        )
    if counted:
        frame = paslon_frame(paslon, total["votes"])
        st.bar_chart(frame, x="Paslon", y="Suara", horizontal=True, height=200)


def coverage_block(cov: dict[str, Any]) -> None:
    """TPS received / verified / in review / retake / missing, and a progress bar."""
    c = Coverage.of(cov["total"])
    labels = (
        ("Jumlah TPS", c.tps_total),
        ("Diterima", c.received),
        ("Terverifikasi", c.verified),
        ("Sedang diperiksa", c.in_review),
        ("Foto diulang", c.retake),
        ("Belum masuk", c.missing),
    )
    for col, (label, n) in zip(st.columns(len(labels)), labels, strict=True):
        col.metric(label, fmt_int(n))
    st.progress(c.verified_share, text=c.progress_text())


def _choose(label: str, rows: list[dict[str, Any]], key: str) -> str:
    options = [ALL, *(r["code"] for r in rows)]
    names = {r["code"]: r["name"] for r in rows}
    return st.selectbox(
        label, options, format_func=lambda c: names.get(c, f"Semua {label.lower()}"), key=key
    )


def drill_down(race: str, results: dict[str, Any], cov: dict[str, Any] | None) -> None:
    """Kota -> kecamatan -> kelurahan -> TPS: the rows of the deepest level chosen."""
    level, parent, res, cv = "kecamatan", None, results, cov
    left, right = st.columns(2)
    with left:
        kec = _choose("Kecamatan", results["rows"], key=f"dash_kec_{race}")
    if kec:
        level, parent = "kelurahan", kec
        found = board.try_get("/results", "Rincian wilayah", race=race, level=level, parent=parent)
        cv = board.try_get("/coverage", "Cakupan wilayah", race=race, level=level, parent=parent)
        if found is None:
            return
        res = found
        with right:
            kel = _choose("Kelurahan", res["rows"], key=f"dash_kel_{race}_{kec}")
        if kel:
            level, parent = LEVEL_BELOW[level], kel
            found = board.try_get(
                "/results", "Rincian wilayah", race=race, level=level, parent=parent
            )
            cv = board.try_get(
                "/coverage", "Cakupan wilayah", race=race, level=level, parent=parent
            )
            if found is None:
                return
            res = found
    sub = res["total"]
    st.caption(
        f"{fmt_int(sub['tps_verified'])} dari {fmt_int(sub['tps_total'])} TPS terverifikasi; "
        f"{fmt_int(not_verified(sub))} belum terverifikasi (tidak dihitung), "
        f"{fmt_int(sub['tps_unverified'])} di antaranya masih diperiksa."
    )
    numbers = st.column_config.TextColumn(alignment="right")
    st.dataframe(
        shown_regions(region_frame(res, cv), res["paslon"]),
        hide_index=True,
        column_config={name: numbers for name in [*res["paslon"], "Suara sah"]},
    )


def arrivals(race: str) -> None:
    """Reports received and forms verified over time, cumulative."""
    body = board.try_get("/results/timeline", "Laporan masuk", race=race, bucket_min=15)
    if body is None:
        return
    frame = timeline_frame(body.get("items", []), int(body.get("bucket_min") or 15))
    if frame.empty:
        st.info("Belum ada laporan masuk.")
        return
    long = frame.reset_index().melt("Waktu (WIB)", var_name="Jenis", value_name="TPS")
    chart = (
        alt.Chart(long)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("Waktu (WIB):T", axis=alt.Axis(format="%H:%M", title="Waktu (WIB)")),
            y=alt.Y("TPS:Q", title="TPS (kumulatif)"),
            color=alt.Color("Jenis:N", title=None, legend=alt.Legend(orient="bottom")),
        )
        .properties(height=260)
    )
    st.altair_chart(chart)


def missing(race: str) -> None:
    body = board.try_get("/coverage/missing", "Daftar TPS belum masuk", race=race)
    if body is None:
        return
    frame = missing_frame(body.get("items", []))
    with st.expander(f"TPS belum masuk atau harus foto ulang: {fmt_int(len(frame))}"):
        st.dataframe(frame, hide_index=True)


def exports(race: str) -> None:
    """CSV and XLSX per TPS, fetched only when clicked (the export lists every TPS)."""
    api = session.api()  # the download runs on another thread: no session state there

    def fetch(fmt: str) -> bytes:
        try:
            return api.raw(f"/exports/results.{fmt}?race={race}")
        except ApiFailure as exc:
            raise RuntimeError(exc.message) from exc

    a, b, _ = st.columns([1, 1, 3])
    a.download_button(
        "Unduh CSV",
        data=lambda: fetch("csv"),
        file_name=f"hasil-{race}.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    b.download_button(
        "Unduh XLSX",
        data=lambda: fetch("xlsx"),
        file_name=f"hasil-{race}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:",
    )


@st.fragment(run_every=REFRESH_S)
def live(race: str) -> None:
    """Everything that changes as reports arrive; refreshed every `REFRESH_S` seconds."""
    st.caption(f"Diperbarui {now_text()} · otomatis tiap {REFRESH_S} detik")
    results = board.try_get("/results", "Hasil", REFRESH_S - 1, race=race, level="kecamatan")
    cov = board.try_get("/coverage", "Cakupan", REFRESH_S - 1, race=race, level="kecamatan")
    if results is None or cov is None:
        return
    st.subheader("Suara terverifikasi")
    totals(results)
    st.subheader("Cakupan TPS")
    coverage_block(cov)
    st.subheader("Rincian wilayah")
    drill_down(race, results, cov)
    st.subheader("Laporan masuk dari waktu ke waktu")
    arrivals(race)
    missing(race)
    st.subheader("Ekspor hasil per TPS")
    exports(race)


def report_button() -> None:
    """Leadership and admin: the "Laporan Hitung Cepat" PDF, built by the API when clicked."""
    if (session.current_user() or {}).get("role") not in REPORTERS:
        return
    api = session.api()  # the download runs on another thread: no session state there

    def fetch() -> bytes:
        try:
            return api.raw("/results/report.pdf")
        except ApiFailure as exc:
            raise RuntimeError(exc.message) from exc

    st.download_button(
        "Unduh Laporan Hitung Cepat (PDF)",
        data=fetch,
        file_name="laporan-hitung-cepat.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        type="primary",
        key="dash_report",
    )


st.title("Dasbor hasil hitung cepat")
st.caption("Hanya angka terverifikasi yang dihitung. Bukan hasil resmi KPU; rahasia.")
report_button()
# "Muat ulang" reruns the whole page, not the fragment: the fragment's own button pressed just
# after a race was chosen left the page blank for good (Streamlit 1.67, about 1 e2e run in 20).
pick, reload = st.columns([5, 1], vertical_alignment="bottom")
if reload.button("Muat ulang", icon=":material/refresh:", key="dash_refresh"):
    board.forget()
with pick:
    chosen = board.race_picker(key="dash_race")
if chosen is not None:
    live(chosen[0])
