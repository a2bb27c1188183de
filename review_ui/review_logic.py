"""What the review screens decide, without Streamlit: which fields need eyes, in what order,
how typed text becomes values, and the approve / send-back sequence over the API."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sipantau.review_ui.client import Api, ApiFailure

RULE_CODE = re.compile(r"^R\d+:\s*")
DETAIL = re.compile(r" \([^()]*(?:\([^()]*\)[^()]*)*= [^()]*(?:\([^()]*\)[^()]*)*\)$")
CONFIDENCE = re.compile(r"(keyakinan rendah) \((0?\.\d+|1\.0+)\)")

STATUS_LABELS = {
    "queued": "menunggu dibaca",
    "reading": "sedang dibaca",
    "rejected": "foto ditolak",
    "review": "perlu diperiksa",
    "verified": "terverifikasi",
    "sent_back": "dikembalikan ke pemantau",
    "superseded": "diganti foto baru",
}


class ValueInvalid(ValueError):
    """Typed text that is not a number 0-999; `message` is shown next to the field."""

    code = "invalid_value"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def label_of(sub: dict[str, Any], name: str) -> str:
    """A field's label as printed on the form, from the API's `labels` of the submission."""
    return (sub.get("labels") or {}).get(name) or name.replace("_", " ")


def race_label(race: str, names: dict[str, str] | None = None) -> str:
    """A race id in words: its name from `GET /election` when given; the blanko's `semua`."""
    if race == "semua":
        return "Blanko (semua pemilihan)"
    return (names or {}).get(race) or race.replace("_", " ").title()


def fmt_confidence(conf: float | None) -> str:
    """The one way confidence is shown: `0.873` -> `"87 %"`, `0.99976` -> `"99,97 %"` (a sure
    but not certain value never reads 100 %)."""
    if conf is None:
        return "-"
    pct = 100.0 * conf
    if conf >= 1.0 or round(pct) < 100:
        return f"{pct:.0f} %"
    places = min(4, max(1, math.ceil(-math.log10(100.0 - pct))))
    return f"{math.floor(pct * 10**places) / 10**places:.{places}f} %".replace(".", ",")


def plain_reason(text: str) -> str:
    """A reason for a person: no rule code (`R5: `), confidence as a percentage."""
    text = RULE_CODE.sub("", text.strip())
    return CONFIDENCE.sub(lambda m: f"{m[1]} ({fmt_confidence(float(m[2]))})", text)


def rule_words(text: str) -> str:
    """A broken rule's message alone, for the small space beside a field: no rule code and
    without the sides it lists (`jumlah suara paslon tidak sama dengan suara sah`)."""
    text = plain_reason(text)
    return DETAIL.sub("", text) if DETAIL.search(text) else text


def flagged_fields(sub: dict[str, Any], checked: dict[str, Any] | None = None) -> list[str]:
    """Fields a person must look at: the likely culprits (a suggestion, or nothing readable)
    first, then the others the broken rules touch, each group in the form's order.

    `checked` is a `/check` answer on the form's current values: fields that break the
    desk's rules (DPT) are flagged there even when the reader was sure of them."""
    fields = sub.get("fields") or {}
    desk = (checked or {}).get("fields") or {}
    flagged = [
        n
        for n, f in fields.items()
        if f.get("status") != "ok" or desk.get(n, {}).get("status") == "review"
    ]

    def culprit(name: str) -> int:
        f = fields[name]
        return 0 if f.get("suggestion") is not None or f.get("value") is None else 1

    return sorted(flagged, key=culprit)  # stable: the form's order within each group


def machine_corrections(sub: dict[str, Any]) -> list[str]:
    """One line per field the machine corrected: `Suara sah: terbaca 127, menjadi 120`."""
    out = []
    for name, f in (sub.get("fields") or {}).items():
        if f.get("corrected"):
            was = as_text(f.get("read_value")) or "(tidak terbaca)"
            out.append(f"{label_of(sub, name)}: terbaca {was}, menjadi {as_text(f.get('value'))}")
    return out


def parse_value(text: str) -> int | None:
    """`"109"` -> 109, `""` -> None (left empty); raises `ValueInvalid` otherwise."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueInvalid("isi dengan angka 0-999 saja")
    value = int(text)
    if value > 999:
        raise ValueInvalid("angka paling besar 999")
    return value


def as_text(value: int | None) -> str:
    return "" if value is None else str(value)


def typed_values(typed: dict[str, str]) -> tuple[dict[str, int | None], dict[str, str]]:
    """Parsed values and, apart, the error message of each field that does not parse."""
    values: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name, text in typed.items():
        try:
            values[name] = parse_value(text)
        except ValueInvalid as exc:
            errors[name] = exc.message
    return values, errors


def changes(current: dict[str, int | None], values: dict[str, int | None]) -> dict[str, int]:
    """The values that differ from the form's current version (empty ones are never sent)."""
    return {n: v for n, v in values.items() if v is not None and current.get(n) != v}


def check(api: Api, sub_id: int, values: dict[str, int | None]) -> dict[str, Any]:
    """The form's rules re-checked with `values` overlaid; nothing is saved."""
    return api.post(f"/submissions/{sub_id}/check", {"values": values})


@dataclass(frozen=True)
class Decision:
    """What the reviewer decided about one form."""

    values: dict[str, int | None]
    accept_problems: bool = False
    reason: str = ""


def approve(api: Api, sub: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """Save the corrections as a new version (when any), then approve; the approved form.

    Raises `ApiFailure` (e.g. 409 while a rule still fails without `accept_problems`)."""
    if decision.accept_problems and len(decision.reason.strip()) < 3:
        raise ApiFailure(
            422, "invalid_request", "tulis alasan mengapa formulir disetujui apa adanya"
        )
    changed = changes(sub.get("values") or {}, decision.values)
    if changed:
        api.post(
            f"/submissions/{sub['id']}/corrections",
            {"values": changed, "reason": decision.reason or "koreksi pemeriksa"},
        )
    body: dict[str, Any] = {"reason": decision.reason.strip()}
    if decision.accept_problems:
        body["accept_problems"] = True
    return api.post(f"/submissions/{sub['id']}/approve", body)


def send_back(api: Api, sub_id: int, reason: str) -> dict[str, Any]:
    """Return the form to its monitor for a new photo, with the reason they will read."""
    if len(reason.strip()) < 3:
        raise ApiFailure(422, "invalid_request", "tulis alasan untuk pemantau (minimal 3 huruf)")
    return api.post(f"/submissions/{sub_id}/send-back", {"reason": reason.strip()})


def claim_next(api: Api, kecamatan: str | None = None, race: str | None = None) -> dict | None:
    """The next waiting form, now held for this reviewer; None when the queue is empty."""
    body = {k: v for k, v in (("kecamatan", kecamatan), ("race", race)) if v}
    return api.post("/review/claim", body)
