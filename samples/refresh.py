"""Regenerates the committed sample photos: `python -m sipantau.samples.refresh`."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from sipantau.samples.make import make_samples

PHOTOS = Path(__file__).parent  # samples/*.jpg and samples/truth.json
SETS = [
    ("sipantau-blanko", 4, 2024),
    ("c-hasil-kwk-walikota", 2, 2025),
    ("c-hasil-kwk-gubernur", 1, 2026),
]


def refresh(out: Path = PHOTOS) -> Path:
    """Seeded photos of each template into `out`, with one merged truth.json."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    photos = []
    with tempfile.TemporaryDirectory() as tmp:
        for template_id, count, seed in SETS:
            d = Path(tmp) / template_id
            make_samples(template_id, count, d, seed)
            for p in json.loads((d / "truth.json").read_text(encoding="utf-8"))["photos"]:
                shutil.copy(d / p["photo"], out / p["photo"])
                p.pop("camera", None)
                photos.append(p)
    note = (
        f"made by python -m sipantau.samples.refresh ({SETS}); "
        "handwriting from the holdout split only"
    )
    truth = out / "truth.json"
    truth.write_text(json.dumps({"note": note, "photos": photos}, indent=1), encoding="utf-8")
    return truth


if __name__ == "__main__":
    print(refresh())
