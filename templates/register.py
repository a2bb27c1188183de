"""Registers a form the desk does not control: one reference scan plus a box map -> a Template.

Box map (JSON): `{"template": ID, "image": {"width": W, "height": H}, "fields": [{"name": N,
"boxes": [[x, y, w, h], ...], "kind": "digits" | "tick", "label": ...}], "checks": [expr, ...]}`,
coordinates in the scan's pixels. `box_map_from_kawalc1` converts kawalc1's (MIT) format.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
from pydantic import ValidationError

from sipantau.errors import TemplateError
from sipantau.templates.model import Template
from sipantau.templates.registry import save_template, user_dir

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    s = re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")
    return s if re.match(r"^[a-z]", s) else f"f_{s}"


def box_map_from_kawalc1(
    data: dict[str, Any], template_id: str, size: tuple[int, int]
) -> dict[str, Any]:
    """kawalc1's `numbers[].digitCoordinates` ([y0, y1, x0, x1]) and `checkSums` -> our box map."""
    names: dict[str, str] = {}
    fields = []
    for number in data["numbers"]:
        name = _snake(number.get("shortName") or f"field_{number['id']}")
        names[str(number["id"])] = name
        boxes = [[x0, y0, x1 - x0, y1 - y0] for y0, y1, x0, x1 in number["digitCoordinates"]]
        fields.append({"name": name, "label": number.get("displayName", name), "boxes": boxes})
    checks = [
        " + ".join(names[str(i)] for i in c["sigma"]) + f" == {names[str(c['total'])]}"
        for c in data.get("checkSums", [])
    ]
    return {
        "template": template_id,
        "image": {"width": size[0], "height": size[1]},
        "fields": fields,
        "checks": checks,
        "credit": "box map and reference scan from kawalc1/kawalc1 (MIT licence)",
    }


def _image_size(path: Path) -> tuple[int, int]:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise TemplateError(f"gambar referensi {path.name} tidak dapat dibaca")
    return image.shape[1], image.shape[0]


def template_from_box_map(
    box_map: dict[str, Any], template_id: str, reference_name: str, size: tuple[int, int]
) -> Template:
    """Build and validate the Template; errors name the offending key (TemplateError)."""
    img = box_map.get("image", {})
    if (img.get("width"), img.get("height")) != size:
        raise TemplateError(f"ukuran gambar di peta kotak {img} tidak sama dengan scan {size}")
    try:
        return Template.model_validate(
            {
                "id": template_id,
                "title": box_map.get("title", template_id),
                "page": {"width": size[0], "height": size[1], "unit": "px"},
                "locator": {"kind": "features", "reference": reference_name},
                "fields": [
                    {
                        "name": f["name"],
                        "label": f.get("label", f["name"]),
                        "kind": f.get("kind", "digits"),
                        "boxes": f["boxes"],
                        "section": f.get("section", ""),
                    }
                    for f in box_map["fields"]
                ],
                "checks": [
                    {"expr": c} if isinstance(c, str) else c for c in box_map.get("checks", [])
                ],
                "credit": box_map.get("credit", ""),
            }
        )
    except ValidationError as exc:
        rows = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TemplateError(f"templat {template_id} tidak valid: {rows}", detail=rows) from exc
    except (KeyError, TypeError) as exc:
        raise TemplateError(f"peta kotak tidak lengkap: {exc}") from exc


def add_template(
    template_id: str, reference: Path, boxes: Path, out_dir: Path | None = None
) -> Path:
    """Register a form from one reference scan and a box map (ours, or kawalc1's shape);
    returns the template's YAML path."""
    out = out_dir or user_dir()
    if reference.suffix.lower() not in IMAGE_SUFFIXES:
        raise TemplateError(f"gambar referensi harus {', '.join(IMAGE_SUFFIXES)}")
    try:
        box_map = json.loads(boxes.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TemplateError(f"peta kotak {boxes.name} tidak dapat dibaca", detail=str(exc)) from exc
    ref_name = f"{template_id}{reference.suffix.lower()}"
    size = _image_size(reference)
    if isinstance(box_map, dict) and "numbers" in box_map:  # kawalc1's own box-map shape
        box_map = box_map_from_kawalc1(box_map, template_id, size)
    template = template_from_box_map(box_map, template_id, ref_name, size)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(reference, out / ref_name)
    return save_template(template, out)
