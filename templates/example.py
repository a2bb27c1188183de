"""The blanko's printed help: where a TPS is (number, kelurahan, kecamatan, beside its code),
and a filled example page, the PDF's second page, written as the rule on the form says."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from sipantau.templates.model import Template
from sipantau.templates.render import render

DEMO_TPS = Path(__file__).with_name("election-demo-tps.csv")
EXAMPLE_QR = "CONTOH"  # the example page's QR names no real TPS: a photo of it is never counted
EXAMPLE_NOTE = "CONTOH PENGISIAN - halaman ini bukan untuk difoto dan dikirim"
INK = (150, 60, 20)  # BGR: ballpoint blue
# Two races' worth of consistent figures: paslon, then suara tidak sah; the rest follows.
RACE_EXAMPLES = ([212, 187, 45], [398, 45, 0])
INVALID = (6, 7)
EXAMPLE_NAME = "Siti Aminah"


def tps_place(code: str, regions: Path = DEMO_TPS) -> str | None:
    """`"1673011001-001"` -> `"TPS 001, Kel. Air Kuti, Kec. Lubuklinggau Timur I"` from the
    election's region file (kelurahan code, dash, TPS number); None when it is not there."""
    kel, _, number = code.partition("-")
    if not number.isdigit():
        return None
    lines = [
        ln for ln in regions.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")
    ]
    for row in csv.DictReader(lines):
        if row["kelurahan_code"] == kel and int(row["tps"]) == int(number):
            return f"TPS {int(number):03d}, Kel. {row['kelurahan']}, Kec. {row['kecamatan']}"
    return None


def example_values(template: Template) -> dict[str, int]:
    """Figures for every field of the blanko that meet its rules (R4-R7), zero included."""
    shorts = [f.name[: -len("_paslon_1")] for f in template.fields if f.name.endswith("_paslon_1")]
    names = {f.name for f in template.fields}
    out: dict[str, int] = {}
    for i, short in enumerate(shorts):
        paslon = sorted(n for n in names if n.startswith(f"{short}_paslon_"))
        votes = (RACE_EXAMPLES[i % 2] * 3)[: len(paslon)]
        out |= dict(zip(paslon, votes, strict=True))
        valid, invalid = sum(votes), INVALID[i % 2]
        out |= {f"{short}_suara_sah": valid, f"{short}_suara_tidak_sah": invalid}
        out |= {f"{short}_total_suara": valid + invalid, f"{short}_pemilih": valid + invalid}
    for f in template.fields:
        if f.kind == "tick":
            out[f.name] = int(f.name == "situasi_aman")
    return {k: v for k, v in out.items() if k in names}


def written(value: int, boxes: int) -> str:
    """What goes in the boxes under the blanko's one rule: `7` -> `"XX7"`, `0` -> `"XX0"`."""
    return str(value).rjust(boxes, "X")


def _watermark(page: Image.Image, s: float) -> Image.Image:
    layer = Image.new("L", page.size, 255)
    font = ImageFont.load_default(size=int(40 * s))
    ImageDraw.Draw(layer).text(
        (page.size[0] / 2, page.size[1] / 2), "CONTOH", fill=222, font=font, anchor="mm"
    )
    return ImageChops.darker(page, layer.rotate(35, fillcolor=255))


def example_page(template: Template, dpi: float = 300) -> np.ndarray:
    """The blanko filled in by the rule on it, watermarked CONTOH (BGR)."""
    blank = render(template, dpi=dpi, tps=EXAMPLE_QR, place=EXAMPLE_NOTE, qr_tps=EXAMPLE_QR)
    s = blank.scale
    gray = _watermark(Image.fromarray(cv2.cvtColor(blank.image, cv2.COLOR_BGR2GRAY)), s)
    page = Image.fromarray(cv2.cvtColor(np.array(gray), cv2.COLOR_GRAY2RGB))
    draw = ImageDraw.Draw(page)
    ink = INK[::-1]
    values = example_values(template)
    for f in template.fields:
        if f.name not in values:
            continue
        text = "X" if f.kind == "tick" and values[f.name] else ""
        if f.kind == "digits":
            text = written(values[f.name], len(f.boxes))
        for (x, y, w, h), ch in zip(f.boxes, text, strict=False):
            font = ImageFont.load_default(size=int(h * s * 0.8))
            draw.text(((x + w / 2) * s, (y + h / 2) * s), ch, fill=ink, font=font, anchor="mm")
    name_font = ImageFont.load_default(size=int(4.5 * s))
    draw.text((120 * s, 271 * s), EXAMPLE_NAME, fill=ink, font=name_font, anchor="ls")
    return cv2.cvtColor(np.array(page), cv2.COLOR_RGB2BGR)
