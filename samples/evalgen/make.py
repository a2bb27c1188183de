"""One evaluation-generator photo: values, the officer's hand, paper, scene, camera, JPEG.

The truth record has the shape of `sipantau samples make` (photo, template, tps, level,
consistent, fields, written, page_corners, camera) plus `generator`, `split` and the digit
sources as indices into the 5k set (`sources_5k`), so a test can check the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sipantau.samples.evalgen import VERSION
from sipantau.samples.evalgen.camera import FRAMES, LEVELS, corners, outline, place, random_shape
from sipantau.samples.evalgen.camera import trace as trace_map
from sipantau.samples.evalgen.hand import Written, ink_colour, random_writer, write_form
from sipantau.samples.evalgen.light import jpeg, lens, light_field, sensor
from sipantau.samples.evalgen.paper import printed, sheet
from sipantau.samples.evalgen.scene import backdrop, drop_shadow
from sipantau.samples.handwriting import Split
from sipantau.samples.values import make_values
from sipantau.templates.model import Template
from sipantau.templates.render import render

DPI = 300.0
SEED_SALT = 0xE7A1  # keeps this generator's draws apart from the training generator's


@dataclass(frozen=True)
class EvalPhoto:
    jpeg: bytes
    corners: np.ndarray  # 4 x 2, page TL TR BR BL in frame px
    quality: int
    params: dict[str, Any]


def photograph(page: np.ndarray, creases: list, rng: np.random.Generator, level: str) -> EvalPhoto:
    """A phone photo of the (written, papered) page at evaluation camera `level`."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    lv = LEVELS[level]
    frame = FRAMES[int(rng.integers(len(FRAMES)))]
    size = (page.shape[1], page.shape[0])
    shape = random_shape(rng, size, lv, creases)
    pose, params = place(rng, shape, frame, lv)
    img, scene = backdrop(rng, frame)
    drop_shadow(img, outline(pose, shape), rng)
    mx, my = trace_map(pose, shape)
    cv2.remap(page, mx, my, cv2.INTER_LINEAR, dst=img, borderMode=cv2.BORDER_TRANSPARENT)
    del mx, my
    gains, light = light_field(rng, frame, lv)
    g8 = np.clip(gains * 128.0, 0, 255).astype(np.uint8)
    img = cv2.multiply(img, cv2.resize(g8, frame, interpolation=cv2.INTER_LINEAR), scale=1 / 128)
    mp_scale = float(np.sqrt(frame[0] * frame[1] / 12e6))
    params.update(lens(img, rng, lv, mp_scale))
    done = sensor(img, rng, lv, light["exposure"])
    data, quality = jpeg(done.pop("out"), rng, lv)
    params.update(done, **light, **scene, width=frame[0], height=frame[1], level=level)
    return EvalPhoto(data, corners(pose, shape), quality, params)


def fill_page(
    template: Template, values: dict[str, int], tps: str, rng: np.random.Generator, split: Split
) -> tuple[np.ndarray, list, Written, str]:
    """The printed blank, written in one writer's hand, on a sheet of some stock."""
    rendered = render(template, dpi=DPI, tps=tps)
    blank = printed(rendered.image, rng)
    rendered = type(rendered)(blank, rendered.scale, rendered.box_map)
    writer = random_writer(rng, split)
    written = write_form(rendered, template, values, rng, writer, ink_colour(writer, rng))
    paper = sheet(written.image, rng)
    return paper.image, paper.creases, written, paper.stock


def make_one(
    template: Template,
    index: int,
    tps: str,
    level: str,
    seed: int,
    slip_rate: float,
    out: Path,
    split: Split = "holdout",
) -> dict[str, Any]:
    """One photo written to `out`; its truth record. Deterministic in (seed, index, template)."""
    rng = np.random.default_rng([SEED_SALT, seed, index])
    values = make_values(template, rng, slip_rate=slip_rate)
    page, creases, written, stock = fill_page(template, values.fields, tps, rng, split)
    photo = photograph(page, creases, rng, level)
    name = f"{template.id}-{index + 1:04d}-{level}.jpg"
    (out / name).write_bytes(photo.jpeg)
    pen = written.writer.pen
    return {
        "photo": name,
        "template": template.id,
        "tps": tps,
        "level": level,
        "consistent": values.consistent,
        "fields": written.fields,
        "written": written.written,
        "page_corners": [[round(float(x), 1), round(float(y), 1)] for x, y in photo.corners],
        "camera": {**photo.params, "jpeg_quality": photo.quality},
        "paper": {"stock": stock, "creases": len(creases)},
        "pen": {"kind": pen.kind, "ink": pen.ink, "width_mm": round(pen.width_mm, 3)},
        "generator": VERSION,
        "split": split,
        "sources_5k": written.global_sources,
    }
