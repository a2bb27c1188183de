"""Second chance for a corner-mark form whose marks give no frame (a curled, steep or busy
photo): the photo registered by features to the rendered blank form, trusted only when the
page's own QR code reads where the warp puts it and its printed boxes line up."""

from __future__ import annotations

import cv2
import numpy as np

from sipantau.ocr.boxes import print_agreement
from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate import NOT_FOUND, make_page, page_corners
from sipantau.ocr.locate_features import FeatureIndex, FeatureSettings, plausible_homographies
from sipantau.ocr.locate_marks import NOT_FLAT
from sipantau.ocr.locate_orient import by_qr
from sipantau.ocr.locate_partial import (
    all_inside,
    boxes_in_photo,
    cut_off_rejection,
    refine_on_print,
)
from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Homography, Page
from sipantau.templates.model import Template
from sipantau.templates.render import parse_qr_payload

PX_PER_UNIT = 5.4  # the blank is rendered at this scale (an A4 page: 1,604 px long)
QR_MARGIN = 0.5  # x the QR side: how far off the warp may put the code on a curled sheet
_INDEX: dict[str, FeatureIndex] = {}


def blank_index(template: Template) -> FeatureIndex:
    """The rendered blank form's features (boxes and QR code masked: they differ per photo),
    computed once per template."""
    if template.id not in _INDEX:
        from sipantau.templates.render import render

        k = PX_PER_UNIT
        image = cv2.cvtColor(render(template, dpi=k * 25.4).image, cv2.COLOR_BGR2GRAY)
        boxes = [[v * k for v in b] for f in template.fields for b in f.boxes]
        if template.qr:
            boxes.append([v * k for v in template.qr])
        s = FeatureSettings(reference_side=max(image.shape))
        _INDEX[template.id] = FeatureIndex.build(image, s, boxes)
    return _INDEX[template.id]


def qr_payload(photo: GrayImage, template: Template, H: Homography) -> str | None:
    """A sipantau payload where `H` puts the QR code: on the rectified crop, else on the photo's
    own pixels around it (a curled sheet bends the code; the detector takes it as seen)."""
    from sipantau.ocr.identify import read_qr

    if template.qr is None:
        return None
    found = by_qr(photo, template, [H])
    text = found[2] if found else None
    if text is None:
        x, y, w, h = template.qr
        m = QR_MARGIN * max(w, h)
        rect = np.array(
            [[x - m, y - m], [x + w + m, y - m], [x + w + m, y + h + m], [x - m, y + h + m]]
        )
        quad = cv2.perspectiveTransform(rect[None], np.linalg.inv(H))[0]
        (x0, y0), (x1, y1) = np.maximum(quad.min(0), 0).astype(int), quad.max(0).astype(int)
        crop = photo[y0:y1, x0:x1]
        text = read_qr(crop, sides=(max(crop.shape), 2 * max(crop.shape))) if crop.size else None
    return text if text and parse_qr_payload(text) is not None else None


def locate_by_blank(photo: GrayImage, template: Template, settings: LocateSettings) -> Page:
    """Photo -> page by features matched to the blank form, refined on its printed lines; at
    each scale tried, the QR payload must read where the warp puts it (the form's own evidence
    of which form and which way up) and the printed boxes must lie right. Where its printed
    lines aligned with every number box in the photo, but no more, the sheet is there and bent:
    the monitor is asked to flatten it; where they aligned with number boxes well out of the
    photo, the page is cut off on that side (its QR code may be what was cut away)."""
    index = blank_index(template)
    fs = FeatureSettings(min_page_fraction=settings.min_page_fraction)
    units = np.diag([template.page.width / index.size[0], template.page.height / index.size[1], 1])
    why: list[str] = []
    seen = False  # the printed lines aligned, every number box in the photo: bent, not cut
    for side, H, detail in plausible_homographies(photo, index, fs, why):
        refined = refine_on_print(photo, template, units @ H)
        if refined is None:
            why.append(f"@{side}: {detail}, printed lines do not align")
            continue
        # its number boxes all in the photo: the sheet is there, bent (else part of it is out)
        boxes = boxes_in_photo(template, refined[0])
        inside = all_inside(boxes, photo.shape)
        seen |= inside
        if not inside:  # its printed lines aligned, number boxes out of the photo: cut off
            quad = cv2.perspectiveTransform(page_corners(template)[None], np.linalg.inv(refined[0]))
            out = cut_off_rejection(photo, quad[0], f"blank form's features @{side}", boxes)
            if out.code == "cut_off":
                raise out
        payload = qr_payload(photo, template, refined[0])
        if payload is None:
            why.append(f"@{side}: {detail}, no QR payload where the warp puts it")
            continue
        page = make_page(photo, template, refined[0], "blank_features/qr+print", settings, payload)
        agreement = print_agreement(page, template)
        if agreement >= settings.min_print_agreement:
            return page
        why.append(f"@{side}: {detail}, printed boxes do not line up ({agreement:.2f})")
    raise PhotoRejected(*(NOT_FLAT if seen else NOT_FOUND), detail="; ".join(why))
