"""Renders a template to a printable page (PNG/PDF) and writes its box map."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sipantau.templates.model import Template

MM_PER_INCH = 25.4
DOTS = "." * 20


def px_per_unit(template: Template, dpi: float) -> float:
    """Pixels per template unit at `dpi` (a px template renders at its own pixel size)."""
    return dpi / MM_PER_INCH if template.page.unit == "mm" else 1.0


def qr_payload(template_id: str, tps: str | None) -> str:
    """What the form's QR code says: the template id and, when known, the TPS code."""
    return f"SIPANTAU|{template_id}|{tps or ''}"


def parse_qr_payload(text: str) -> tuple[str, str | None] | None:
    parts = text.split("|")
    if len(parts) != 3 or parts[0] != "SIPANTAU" or not parts[1]:
        return None
    return parts[1], parts[2] or None


@dataclass(frozen=True)
class Rendered:
    image: np.ndarray  # BGR uint8
    scale: float  # px per template unit
    box_map: dict[str, Any]


def _px(v: float, s: float) -> int:
    return int(round(v * s))


def _aruco(template: Template, canvas: np.ndarray, s: float) -> None:
    loc = template.locator
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, loc.aruco_dict))
    side = _px(loc.mark_size, s)
    for i, (cx, cy) in enumerate(loc.corners):
        marker = cv2.aruco.generateImageMarker(dictionary, loc.marker_ids[i], side)
        # corners are the marks' outer corners: place each square inward from its page corner
        x = _px(cx, s) if i in (0, 3) else _px(cx, s) - side
        y = _px(cy, s) if i in (0, 1) else _px(cy, s) - side
        canvas[y : y + side, x : x + side] = marker


def _corner_marks(template: Template, canvas: np.ndarray, s: float) -> None:
    loc = template.locator
    arm, thick = _px(loc.mark_size, s), max(2, _px(loc.mark_size * 0.38, s))
    for i, (cx, cy) in enumerate(loc.corners):
        x, y = _px(cx, s), _px(cy, s)
        dx = 1 if i in (0, 3) else -1
        dy = 1 if i in (0, 1) else -1
        xs = sorted((x, x + dx * arm))
        ys = sorted((y, y + dy * thick))
        canvas[ys[0] : ys[1], xs[0] : xs[1]] = 0
        xs = sorted((x, x + dx * thick))
        ys = sorted((y, y + dy * arm))
        canvas[ys[0] : ys[1], xs[0] : xs[1]] = 0


def _qr(template: Template, canvas: np.ndarray, s: float, tps: str | None) -> None:
    if template.qr is None:
        return
    x, y, w, h = template.qr
    code = cv2.QRCodeEncoder.create().encode(qr_payload(template.id, tps))
    side = min(_px(w, s), _px(h, s))
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST)
    canvas[_px(y, s) : _px(y, s) + side, _px(x, s) : _px(x, s) + side] = code


def _header_lines(template: Template, tps: str | None, place: str | None) -> list[Any]:
    """Where the form is from, under the title: the TPS code and, when known, its number,
    kelurahan and kecamatan (`place`); on a blank blanko, lines to write them on."""
    if template.page.unit != "mm" and not tps:
        return []
    mm = template.page.unit == "mm"
    base = template.texts[0].model_copy(
        update={"role": "plain", "align": "left", "x": 10.0 if mm else 40.0, "bold": True}
    )
    y = 30.0 if mm else 110.0
    if not tps:
        if template.race is not None:
            return []
        blank = f"TPS nomor: {DOTS[:8]}   Kelurahan: {DOTS}   Kecamatan: {DOTS}"
        return [base.model_copy(update={"text": blank, "size": 3.0, "y": y})]
    if not place or not mm:
        return [base.model_copy(update={"text": f"TPS: {tps}", "size": 3.2, "y": y})]
    return [
        base.model_copy(update={"text": place, "size": 3.2, "y": y}),
        base.model_copy(
            update={"text": f"Kode TPS: {tps}", "size": 2.8, "bold": False, "y": y + 5.0}
        ),
    ]


def _draw_vector(
    template: Template, img: Image.Image, s: float, tps: str | None, place: str | None = None
) -> None:
    draw = ImageDraw.Draw(img)
    for ln in template.lines:
        x, y, w, h = (_px(v, s) for v in ln.rect)
        width = max(1, _px(ln.width, s))
        if ln.fill:
            draw.rectangle([x, y, x + w, y + h], fill=ln.gray)
        else:
            draw.rectangle([x, y, x + w, y + h], outline=ln.gray, width=width)
    texts = list(template.texts) + _header_lines(template, tps, place)
    for t in texts:
        size = max(8, _px(t.size * 1.4, s))
        font = ImageFont.load_default(size=size)
        anchor = {"left": "ls", "center": "ms", "right": "rs"}[t.align]
        draw.text(
            (_px(t.x, s), _px(t.y, s)),
            t.text,
            fill=0,
            font=font,
            anchor=anchor,
            stroke_width=1 if t.bold else 0,
            stroke_fill=0,
        )
    for f in template.fields:
        for bx, by, bw, bh in f.boxes:  # page units
            edge = max(2, _px(0.35, s)) if template.page.unit == "mm" else 2
            draw.rectangle(
                [_px(bx, s), _px(by, s), _px(bx + bw, s), _px(by + bh, s)], outline=0, width=edge
            )


def render(
    template: Template,
    dpi: float = 300,
    tps: str | None = None,
    place: str | None = None,
    qr_tps: str | None = None,
) -> Rendered:
    """Draw the blank form at `dpi`; returns the image and its box map in that image's pixels.
    `place` ("TPS 001 · Kel. .. · Kec. ..") is printed beside the code; `qr_tps` puts another
    code than `tps` in the QR (the example page's, so a photo of it is never counted)."""
    s = px_per_unit(template, dpi)
    if template.locator.kind == "features":
        raise ValueError("a registered scan is not rendered: print the original form")
    w, h = _px(template.page.width, s), _px(template.page.height, s)
    img = Image.new("L", (w, h), 255)
    _draw_vector(template, img, s, tps, place)
    canvas = np.array(img)
    if template.locator.kind == "aruco":
        _aruco(template, canvas, s)
    else:
        _corner_marks(template, canvas, s)
    _qr(template, canvas, s, qr_tps or tps)
    return Rendered(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), s, box_map(template, s, (w, h)))


def box_map(template: Template, s: float, size: tuple[int, int]) -> dict[str, Any]:
    """The box map: every field's boxes in the rendered image's pixels, and the checks."""
    return {
        "template": template.id,
        "image": {"width": size[0], "height": size[1]},
        "fields": [
            {
                "name": f.name,
                "boxes": [[_px(x, s), _px(y, s), _px(w, s), _px(h, s)] for x, y, w, h in f.boxes],
            }
            for f in template.fields
        ],
        "checks": [c.expr for c in template.checks],
    }


def write(
    rendered: Rendered,
    out: Path,
    dpi: float,
    boxes: Path | None = None,
    more: list[np.ndarray] | None = None,
) -> None:
    """Save as PNG or PDF (by suffix), and the box map as JSON when asked; a PDF gets the
    images in `more` (BGR) as its next pages."""
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        pages = [
            Image.fromarray(cv2.cvtColor(im, cv2.COLOR_BGR2RGB))
            for im in [rendered.image, *(more or [])]
        ]
        pages[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    elif suffix == ".png":
        if not cv2.imwrite(str(out), rendered.image):
            raise OSError(f"cannot write {out}")
    else:
        raise ValueError(f"output must end in .png or .pdf, not {suffix!r}")
    if boxes is not None:
        boxes.parent.mkdir(parents=True, exist_ok=True)
        boxes.write_text(json.dumps(rendered.box_map, indent=1), encoding="utf-8")
