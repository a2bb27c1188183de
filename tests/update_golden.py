"""Regenerate tests/golden_expected.json: what the reader makes today of every committed sample.

Run `python -m tests.update_golden` after a change that is meant to change readings (the digit
model, the trust rule, new samples), then look at the diff: every field's value and status,
and the form's. It refuses to write when an `ok` field is wrong against samples/truth.json
(a silent error is a bug to fix, never an expectation to store).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "samples"
EXPECTED = Path(__file__).resolve().parent / "golden_expected.json"
NOTE = (
    "What the reader makes of each committed sample photo (samples/*.jpg): the form's status and "
    "every field's value and status. Regenerate with `python -m tests.update_golden` and review "
    "the diff; tests/test_golden.py asserts it exactly."
)


def truth() -> list[dict[str, Any]]:
    return list(json.loads((PHOTOS / "truth.json").read_text(encoding="utf-8"))["photos"])


def outcome(reading: Any) -> dict[str, Any]:
    """The part of a reading the golden test pins: statuses and values, not confidences."""
    return {
        "template": reading.template,
        "tps": reading.tps,
        "status": reading.status,
        "fields": {
            name: {"value": f.value, "status": f.status} for name, f in reading.fields.items()
        },
    }


def silent_errors(out: dict[str, Any], t: dict[str, Any]) -> list[str]:
    """Fields marked `ok` whose value is not the one written on the form."""
    return [
        f"{t['photo']}: {name} ok as {f['value']}, written {t['fields'].get(name)}"
        for name, f in out["fields"].items()
        if f["status"] == "ok" and f["value"] != t["fields"].get(name)
    ]


def read_all() -> dict[str, dict[str, Any]]:
    from sipantau.ocr.digits import default_reader
    from sipantau.ocr.pipeline import Reader
    from sipantau.templates.registry import all_templates

    reader = Reader(all_templates(), default_reader())
    return {
        t["photo"]: outcome(reader.read((PHOTOS / t["photo"]).read_bytes(), t["photo"]))
        for t in truth()
    }


def main() -> int:
    photos = read_all()
    by_photo = {t["photo"]: t for t in truth()}
    wrong = [e for name, out in photos.items() for e in silent_errors(out, by_photo[name])]
    if wrong:
        print("not written: ok fields that are wrong:\n" + "\n".join(wrong), file=sys.stderr)
        return 1
    for name, out in photos.items():
        fields = out["fields"].values()
        right = sum(f["value"] == by_photo[name]["fields"][k] for k, f in out["fields"].items())
        ok = sum(f["status"] == "ok" for f in fields)
        print(f"{name}: {out['status']}, {right}/{len(fields)} fields right, {ok} ok")
    text = json.dumps({"note": NOTE, "photos": photos}, indent=1, ensure_ascii=False)
    EXPECTED.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {EXPECTED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
