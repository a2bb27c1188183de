"""A form's history in words: each version's changes and each event, fields named by their
labels on the form, times in WIB, sources in Bahasa (never a stored dict or a field id)."""

from __future__ import annotations

from typing import Any

from sipantau.review_ui.clock import wib_text
from sipantau.review_ui.review_logic import STATUS_LABELS, as_text, plain_reason

SOURCES = {"reader": "mesin pembaca", "reviewer": "pemeriksa posko"}
EVENT_LABELS = {
    "uploaded": "foto diunggah",
    "read": "dibaca mesin",
    "rejected": "foto ditolak",
    "read_failed": "gagal dibaca",
    "flagged": "ditandai",
    "unverified": "dibatalkan verifikasinya",
    "claimed": "diambil untuk diperiksa",
    "corrected": "dikoreksi",
    "approved": "disetujui",
    "sent_back": "dikembalikan ke pemantau",
    "superseded": "diganti foto baru",
}


def _change(label: str, old: Any, new: Any) -> str:
    return f"{label}: {as_text(old) or '-'} → {as_text(new) or '-'}"


def version_changes(versions: list[dict[str, Any]], labels: dict[str, str]) -> list[dict]:
    """One row per version: who, when, why, and each value that changed from the one before,
    named by its label on the form."""
    rows: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    for v in versions:
        now = v.get("values") or {}
        diff = [
            _change(labels.get(name) or name, before.get(name), now.get(name))
            for name in now
            if before and before.get(name) != now.get(name)
        ]
        source = v.get("source", "")
        rows.append(
            {
                "versi": v["version"],
                "waktu": wib_text(v.get("at")),
                "oleh": v["by"],
                "sumber": SOURCES.get(source, source),
                "alasan": v.get("reason") or "",
                "perubahan": "; ".join(diff) if before else "bacaan pertama",
                "aturan dilanggar": "; ".join(plain_reason(p) for p in v.get("problems") or []),
            }
        )
        before = now
    return rows


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB".replace(".", ",") if n >= 100_000 else f"{n // 1000} kB"


def event_detail(kind: str, detail: dict[str, Any], labels: dict[str, str]) -> str:
    """An event's detail in words: labels for fields, never the stored dict."""
    reason = str(detail.get("reason") or "").strip()
    why = f"alasan: {reason}" if reason else ""
    if kind == "uploaded" and detail.get("bytes") is not None:
        w, h = (detail.get("size") or [0, 0])[:2]
        fmt = str(detail.get("format") or "").upper()
        return f"foto {fmt} {_size(int(detail['bytes']))}, {w} × {h} piksel".replace("  ", " ")
    if kind == "read":
        status = STATUS_LABELS.get(detail.get("status", ""), detail.get("status", ""))
        ms = detail.get("ms")
        took = f" (dibaca dalam {ms / 1000:.1f} detik)".replace(".", ",") if ms else ""
        return f"hasil: {status}{took}"
    if kind == "rejected":
        return "; ".join(plain_reason(str(r)) for r in detail.get("reasons") or [])
    if kind == "read_failed":
        return "mesin gagal membaca foto ini"
    if kind in ("flagged", "unverified"):
        return plain_reason(str(detail.get("message") or ""))
    if kind == "corrected":
        changed, before = detail.get("changed") or {}, detail.get("before") or {}
        parts = [
            _change(labels.get(n) or n, before.get(n), v)
            if n in before
            else f"{labels.get(n) or n} menjadi {as_text(v) or '-'}"
            for n, v in changed.items()
        ]
        return "; ".join([*parts, why] if why else parts)
    if kind == "approved":
        version = f"versi {detail['version']}" if detail.get("version") else ""
        return "; ".join(p for p in (version, why) if p)
    if kind == "sent_back":
        return why
    if kind == "superseded" and detail.get("by"):
        return f"diganti kiriman #{detail['by']}"
    return "; ".join(
        f"{k}: {v}" for k, v in detail.items() if isinstance(v, str | int | float) and v != ""
    )


def event_rows(events: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Events as table rows: when (WIB), who, what happened and its detail in words."""
    return [
        {
            "waktu": wib_text(e.get("at")),
            "oleh": e["by"],
            "kejadian": EVENT_LABELS.get(e["kind"], e["kind"]),
            "rincian": event_detail(e["kind"], e.get("detail") or {}, labels),
        }
        for e in events
    ]
