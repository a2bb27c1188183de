"""Periksa formulir: one claimed form, keyboard first.

Type the number, Enter goes to the next flagged field, Ctrl+Enter approves (corrections are
saved first), Alt+K sends the form back with a reason; the next form is then taken at once.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from sipantau.review_ui import review_logic as logic
from sipantau.review_ui.client import ApiFailure
from sipantau.review_ui.clock import wib_text
from sipantau.review_ui.figures import FigureError, draw_boxes
from sipantau.review_ui.keys import focus_script
from sipantau.review_ui.session import api, show_failure

APPROVE_KEY, SEND_BACK_KEY, NEXT_KEY = "Ctrl+Enter", "Alt+K", "Alt+N"
SEND_BACK_HINT = "tulis alasan untuk pemantau (minimal 3 huruf)"


def _image(sub_id: int, path: str) -> bytes | None:
    """Images of the form on screen, fetched once (only the current form's are kept)."""
    cache = st.session_state.get("review_images")
    if not cache or cache.get("id") != sub_id:
        cache = st.session_state["review_images"] = {"id": sub_id}
    if path not in cache:
        try:
            cache[path] = api().raw(f"/submissions/{sub_id}/{path}")
        except ApiFailure:
            cache[path] = None
    return cache[path]


def _take_next(done: str | None = None) -> None:
    """Claim the next form in the queue's filter and show it (or the empty queue)."""
    if done:
        st.session_state["review_done"] = done
    kecamatan, race = st.session_state.get("queue_filter", (None, None))
    try:
        sub = logic.claim_next(api(), kecamatan, race)
    except ApiFailure as exc:
        st.session_state["claimed_id"] = None
        show_failure(exc)
        return
    st.session_state["claimed_id"] = sub["id"] if sub else None
    st.rerun()


def _header(sub: dict[str, Any]) -> None:
    status = logic.STATUS_LABELS.get(sub["status"], sub["status"])
    st.subheader(f"Formulir #{sub['id']} · TPS {sub['tps']} · {logic.race_label(sub['race'])}")
    st.caption(f"{status} · dikirim {sub['submitted_by']} · {wib_text(sub['created_at'])}")
    for flag in sub.get("flags") or []:
        st.warning(flag["message"], icon=":material/flag:")
    if sub["reasons"]:
        st.markdown("**Alasan ditandai:** " + "; ".join(map(logic.plain_reason, sub["reasons"])))


def _field_row(sub: dict[str, Any], name: str, number: int) -> tuple[str, Any]:
    """Crop, reading, confidence, reasons, suggestion and the input; (typed text, status slot).
    `number` is the one drawn beside the field's box on the page."""
    field = sub["fields"][name]
    label = logic.label_of(sub, name)
    crop, info, entry = st.columns([3, 3, 2], vertical_alignment="center")
    image = _image(sub["id"], f"fields/{name}.png")
    if image:
        crop.image(image, width="stretch")
    else:
        crop.caption("potongan tidak tersedia")
    lines = [
        f"**{number}. {label}**",
        f"terbaca **{logic.as_text(field.get('value')) or 'kosong'}**"
        f" · keyakinan {logic.fmt_confidence(field.get('confidence'))}",
    ]
    if field.get("suggestion") is not None:
        lines.append(f"saran dari aturan: **{field['suggestion']}**")
    lines += [f"- {logic.plain_reason(r)}" for r in field.get("reasons") or []]
    info.markdown("  \n".join(lines))
    current = (sub.get("values") or {}).get(name, field.get("value"))
    text = entry.text_input(
        label,
        value=logic.as_text(current),
        key=f"val_{sub['id']}_{name}",
        live=True,
        max_chars=3,
        label_visibility="collapsed",
        placeholder="angka",
    )
    return text, entry.empty()


def _live_check(sub: dict[str, Any], values: dict[str, int | None]) -> dict[str, Any] | None:
    """The rules on the typed values (cached per set of values); None when the API refused."""
    key = (sub["id"], sub["version"], tuple(sorted(values.items())))
    cache = st.session_state.get("review_check")
    if not cache or len(cache) > 50:
        cache = st.session_state["review_check"] = {}
    if key in cache:
        return cache[key]
    try:
        result = logic.check(api(), sub["id"], values)
    except ApiFailure as exc:
        st.warning(f"Aturan tidak dapat diperiksa ulang: {exc.message}")
        return None
    cache[key] = result
    return result


def _show_check(result: dict[str, Any] | None, slots: dict[str, Any], errors: dict) -> None:
    for name, slot in slots.items():
        if name in errors:
            slot.markdown(f":red[{errors[name]}]")
        elif result and name in result.get("fields", {}):
            verdict = result["fields"][name]
            if verdict["status"] == "ok":
                slot.markdown(":green[:material/check: cocok]")
            else:
                why = "; ".join(dict.fromkeys(map(logic.rule_words, verdict["reasons"])))
                slot.markdown(f":red[:material/close: {why or 'periksa'}]")
    if result is None:
        return
    if result["ok"]:
        st.success("Semua aturan terpenuhi.", icon=":material/task_alt:")
    else:
        st.error(
            "Aturan yang masih dilanggar: " + "; ".join(map(logic.plain_reason, result["reasons"]))
        )


def _approve(sub: dict[str, Any], values: dict, ok: bool, errors: dict) -> None:
    accept = reason = None
    if not ok:
        accept = st.checkbox(
            "Kertasnya sendiri memang tidak konsisten: setujui apa adanya", key="accept_problems"
        )
        reason = st.text_input("Alasan menyetujui apa adanya", key="accept_reason")
    if st.button("Setujui", type="primary", shortcut=APPROVE_KEY, icon=":material/check:"):
        if errors:
            st.error("Perbaiki dulu kolom yang bukan angka 0-999.")
            return
        decision = logic.Decision(values, bool(accept), reason or "")
        try:
            done = logic.approve(api(), sub, decision)
        except ApiFailure as exc:
            st.session_state["review_focus_nonce"] = (
                st.session_state.get("review_focus_nonce", 0) + 1
            )
            show_failure(exc)
            return
        _take_next(f"Formulir #{done['id']} (TPS {done['tps']}) disetujui.")


def _send_back(sub: dict[str, Any]) -> None:
    """The reason and its button in one form: Alt+K sends what is typed, no Enter needed
    (outside a form a text input commits only on Enter or blur, so the first Alt+K lost it).
    `validate` makes the browser take the input's latest text when the form is submitted
    (without it the last keystrokes before Alt+K could be lost) and says what is missing."""
    with st.form(f"send_back_{sub['id']}", enter_to_submit=False, border=False):
        reason = st.text_input(
            "Alasan dikembalikan ke pemantau",
            key=f"back_{sub['id']}",
            validate=(r"\S[\s\S]+\S", SEND_BACK_HINT),
        )
        sent = st.form_submit_button(
            "Kembalikan ke pemantau", shortcut=SEND_BACK_KEY, icon=":material/undo:"
        )
    if sent:
        try:
            logic.send_back(api(), sub["id"], reason)
        except ApiFailure as exc:
            show_failure(exc)
            return
        _take_next(f"Formulir #{sub['id']} dikembalikan ke pemantau.")


def _pictures(sub: dict[str, Any], flagged: list[str]) -> None:
    page = _image(sub["id"], "page.jpg")
    if page is None:
        st.caption("Halaman yang diluruskan tidak tersedia.")
    else:
        try:
            drawn = draw_boxes(page, sub.get("fields") or {}, flagged)
        except FigureError as exc:
            st.warning(str(exc))
        else:
            st.image(
                drawn,
                caption="Halaman diluruskan; merah bernomor = kolom yang perlu diperiksa",
                width="stretch",
            )
    with st.expander("Foto asli"):
        photo = _image(sub["id"], "photo")
        if photo:
            st.image(photo, width="stretch")


def _empty() -> None:
    st.info("Belum ada formulir yang diambil.")
    if st.button("Ambil formulir berikutnya", type="primary", shortcut=NEXT_KEY):
        _take_next()


def main() -> None:
    st.title("Periksa formulir")
    if done := st.session_state.pop("review_done", None):
        st.success(done, icon=":material/done_all:")
    sub_id = st.session_state.get("claimed_id")
    if sub_id is None:
        _empty()
        return
    try:
        sub = api().get(f"/submissions/{sub_id}")
    except ApiFailure as exc:
        show_failure(exc)
        return
    _header(sub)
    flagged = logic.flagged_fields(sub, _live_check(sub, {}))
    left, right = st.columns([3, 2])
    with left:
        if fixed := logic.machine_corrections(sub):
            st.info(
                "Dikoreksi mesin (aturan formulir menentukan angka yang kurang jelas):\n\n"
                + "\n".join(f"- {line}" for line in fixed),
                icon=":material/auto_fix_high:",
            )
        if not flagged:
            st.info("Tidak ada kolom yang ditandai; periksa alasan di atas lalu putuskan.")
        rows = {name: _field_row(sub, name, i) for i, name in enumerate(flagged, 1)}
        values, errors = logic.typed_values({n: text for n, (text, _) in rows.items()})
        result = None if errors else _live_check(sub, values)
        _show_check(result, {n: slot for n, (_, slot) in rows.items()}, errors)
        st.caption(
            f"Enter: kolom berikutnya · {APPROVE_KEY}: setujui · {SEND_BACK_KEY}: kembalikan"
        )
        _approve(sub, values, bool(result and result["ok"]), errors)
        _send_back(sub)
    with right:
        _pictures(sub, flagged)
    labels = [logic.label_of(sub, n) for n in flagged]
    token = f"{sub['id']}-{st.session_state.get('review_focus_nonce', 0)}"
    st.iframe(focus_script(labels, labels[0] if labels else None, token), height=1)


main()
