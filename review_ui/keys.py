"""Keyboard-first review: a tiny script (run through `st.iframe` as srcdoc) that moves focus.

Streamlit keeps focus where it was after Enter; the reviewer wants the next flagged field.
The script acts on the app's document (`window.parent.document`, same origin): Enter in one
of the listed inputs (matched by `aria-label`, which Streamlit sets to the widget label)
focuses and selects the next one, so typing replaces the reading; on load it focuses `focus`.
"""

from __future__ import annotations

import json

SCRIPT = """<script>
(function () {
  const labels = %(labels)s;
  const focus = %(focus)s;
  const win = window.parent, doc = win.document;
  const find = (label) => Array.from(doc.querySelectorAll("input[aria-label]"))
    .find((el) => el.getAttribute("aria-label") === label);
  const take = (el) => { el.focus(); el.select(); };
  if (win.__sipantauEnter) doc.removeEventListener("keydown", win.__sipantauEnter, true);
  win.__sipantauEnter = function (e) {
    if (e.key !== "Enter" || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey) return;
    const t = e.target;
    const at = labels.indexOf(t && t.getAttribute ? t.getAttribute("aria-label") : null);
    if (at < 0 || at + 1 >= labels.length) return;
    const next = find(labels[at + 1]);
    if (next) setTimeout(() => take(next), 0);
  };
  doc.addEventListener("keydown", win.__sipantauEnter, true);
  if (focus === null) return;
  let tries = 0;
  const timer = setInterval(() => {
    const el = find(focus);
    if (el || ++tries > 60) { clearInterval(timer); if (el) take(el); }
  }, 50);
})();
</script>
<!-- %(token)s -->"""


def focus_script(labels: list[str], focus: str | None, token: str) -> str:
    """The script for this form: Enter walks `labels` in order; `focus` gets focus on load.

    `token` changes whenever focus must be taken again (a new form, a failed approval):
    Streamlit re-runs a component's script only when its HTML changes."""
    return SCRIPT % {
        "labels": json.dumps(labels),
        "focus": json.dumps(focus),
        "token": token.replace("--", "- -"),
    }
