"""The aligned page with every field's box drawn, the flagged ones highlighted (for the
review screen: the reviewer sees where on the paper each number sits)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

OK_BGR = (90, 160, 60)  # green: read and consistent
FLAG_BGR = (30, 30, 220)  # red: needs eyes
FOCUS_BGR = (0, 170, 255)  # orange: the field being typed now


class FigureError(ValueError):
    """The page image could not be decoded; `code` is stable, the message says what to do."""

    code = "bad_page_image"


def draw_boxes(
    page_jpeg: bytes,
    fields: dict[str, dict[str, Any]],
    flagged: Iterable[str] = (),
    focus: str | None = None,
) -> bytes:
    """`page_jpeg` with each field's `box` outlined; flagged thick red, `focus` orange; JPEG.
    Each flagged box carries its number in `flagged` (1, 2, ..), the number the review list
    shows beside the field's label (never the field's id)."""
    image = cv2.imdecode(np.frombuffer(page_jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FigureError("halaman yang diluruskan tidak dapat dibuka; muat ulang halaman")
    numbers = {name: i for i, name in enumerate(flagged, 1)}
    thick = max(2, image.shape[1] // 400)
    for name, field in fields.items():
        box = field.get("box")
        if not box or len(box) != 4:
            continue
        x, y, w, h = (int(round(v)) for v in box)
        color = FOCUS_BGR if name == focus else FLAG_BGR if name in numbers else OK_BGR
        width = thick * 2 if name in numbers or name == focus else thick
        cv2.rectangle(image, (x, y), (x + w, y + h), color, width)
        if name in numbers:
            cv2.putText(
                image,
                str(numbers[name]),
                (x, max(12, y - 6)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.9,
                color,
                2,
                cv2.LINE_AA,
            )
    ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise FigureError("gambar halaman tidak dapat dibuat")
    return jpg.tobytes()
