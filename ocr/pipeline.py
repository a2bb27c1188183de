"""The reader: photo bytes -> FormReading, stage by stage; bad input is a rejection, not a crash."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from sipantau.ocr.boxes import FieldCrops, cut_boxes
from sipantau.ocr.decode import decode
from sipantau.ocr.digits import DigitReader
from sipantau.ocr.errors import PhotoRejected, SipantauError, UnknownTemplate
from sipantau.ocr.locate import locate, on_larger_photo
from sipantau.ocr.quality import assess, page_width_px
from sipantau.ocr.settings import ReadSettings
from sipantau.ocr.types import BoxReading, FormReading, GrayImage, Page
from sipantau.ocr.verdict import judge
from sipantau.templates.model import Template
from sipantau.templates.render import parse_qr_payload

log = logging.getLogger("sipantau.read")

DebugSink = Callable[[str, np.ndarray], None]
FAILED = "processing_failed: foto tidak dapat diproses; foto ulang, atau kirim untuk diperiksa"


@dataclass
class Reader:
    """Reads photos against known templates with one digit reader; reusable across photos."""

    templates: dict[str, Template]
    digits: DigitReader
    settings: ReadSettings = field(default_factory=ReadSettings.from_env)
    debug: DebugSink | None = None

    def read(self, data: bytes, photo: str = "", template_id: str | None = None) -> FormReading:
        """Read one photo. Bad input gives a `rejected` reading with the reason, never raises."""
        t0 = time.perf_counter()
        try:
            reading = self._read(data, photo, template_id)
        except PhotoRejected as exc:
            log.info("rejected %s: %s (%s)", photo, exc.code, exc.detail)
            reading = FormReading(photo, template_id, "rejected", [f"{exc.code}: {exc.message}"])
        except SipantauError as exc:
            reading = FormReading(photo, template_id, "rejected", [f"{exc.code}: {exc.message}"])
        except Exception:  # a photo that breaks a stage must not stop the batch
            log.exception("reading %s failed", photo)
            reading = FormReading(photo, template_id, "rejected", [FAILED])
        reading.ms = (time.perf_counter() - t0) * 1000
        return reading

    def _read(self, data: bytes, photo: str, template_id: str | None) -> FormReading:
        decoded = decode(data, self.settings.decode)
        image = decoded.image
        template, page, tps = self._find(image, template_id)
        small = page_width_px(page) < 0.6 * self.settings.locate.canonical_width
        if decoded.reduction > 1 and small:
            # the page is small in the frame: read it from the full-size decode instead
            full = decode(data, self.settings.decode, full=True)
            factor = full.image.shape[1] / image.shape[1]
            image = full.image
            page = on_larger_photo(page, image, factor, template, self.settings.locate)
        if tps is None:  # not read while identifying the form
            tps = self._check_qr(page, template)
        if self.debug:
            self.debug("page", page.image)
        crops = cut_boxes(page, template)
        problems = assess(image, page, template, crops, self.settings.quality)
        if problems:
            return FormReading(
                photo,
                template.id,
                "rejected",
                [f"{p.code}: {p.message}" for p in problems],
                tps=tps,
                page=page,
            )
        return self._numbers(photo, template, page, crops, tps)

    def _numbers(
        self,
        photo: str,
        template: Template,
        page: Page,
        crops: dict[str, FieldCrops],
        tps: str | None,
    ) -> FormReading:
        flat = [c for fc in crops.values() for c in fc.crops]
        probs = self.digits.predict(flat)
        box_probs: dict[str, np.ndarray] = {}
        i = 0
        for name, fc in crops.items():
            box_probs[name] = probs[i : i + len(fc.crops)]
            i += len(fc.crops)
        verdict = judge(template, box_probs, self.settings.decision)
        for name, fr in verdict.fields.items():
            fr.boxes = [
                BoxReading(b, p) for b, p in zip(crops[name].boxes, box_probs[name], strict=True)
            ]
        return FormReading(
            photo,
            template.id,
            verdict.status,
            list(verdict.reasons),
            verdict.fields,
            tps=tps,
            page=page,
        )

    def _find(self, image: GrayImage, template_id: str | None) -> tuple[Template, Page, str | None]:
        if template_id is not None:
            if template_id not in self.templates:
                raise UnknownTemplate(f"templat '{template_id}' tidak dikenal")
            template = self.templates[template_id]
            try:
                page = locate(image, template, self.settings.locate)
            except PhotoRejected as exc:
                raise self._explain_wrong_form(image, template, exc) from exc
            return template, page, None
        return self._identify_and_locate(image)

    def _check_qr(self, page: Page, template: Template) -> str | None:
        payload = read_qr(page, template)
        if payload is None:
            return None
        parsed = parse_qr_payload(payload)
        if parsed is None:
            return None
        qr_template, tps = parsed
        if qr_template != template.id:
            raise PhotoRejected(
                "wrong_form", f"foto ini formulir '{qr_template}', bukan '{template.id}'"
            )
        return tps

    def _explain_wrong_form(
        self, image: GrayImage, template: Template, exc: PhotoRejected
    ) -> PhotoRejected:
        """When the expected form is not found, say which form the photo shows, if any."""
        try:
            other = self._identify_and_locate(image, by_title=False)[0]
        except SipantauError:
            return exc
        if other.id != template.id:
            return PhotoRejected(
                "wrong_form",
                f"foto ini formulir '{other.id}', bukan '{template.id}'; pilih formulir yang benar",
            )
        return exc

    def _identify_and_locate(
        self, image: GrayImage, by_title: bool = True
    ) -> tuple[Template, Page, str | None]:
        """Which known form is this? Printed marks first (cheap), its QR code to tell forms of
        the same frame apart, and the printed title (tesseract) as the last resort."""
        for kind in ("aruco", "corner_marks"):
            for t in self.templates.values():
                if t.locator.kind != kind:
                    continue
                try:
                    page = locate(image, t, self.settings.locate)
                except PhotoRejected:
                    continue
                return self._by_qr(image, t, page)
        from sipantau.ocr.identify import identify

        ident = identify(image, list(self.templates.values()), by_title)
        template = self.templates[ident.template_id]
        page = locate(image, template, self.settings.locate)
        return template, page, ident.tps

    def _by_qr(
        self, image: GrayImage, t: Template, page: Page
    ) -> tuple[Template, Page, str | None]:
        """The QR's TPS; and the form the QR names when it shares `t`'s frame (another race)."""
        parsed = parse_qr_payload(read_qr(page, t) or "")
        if parsed is None or parsed[0] not in self.templates:
            return t, page, None
        other = self.templates[parsed[0]]
        if other.id == t.id or (other.page, other.locator) == (t.page, t.locator):
            return other, page, parsed[1]  # the same page frame: the same warp serves
        return other, locate(image, other, self.settings.locate), parsed[1]


_qr = cv2.QRCodeDetector()


def read_qr(page: Page, template: Template) -> str | None:
    """Decode the QR code where the template prints it (None when unreadable)."""
    if template.qr is None:
        return None
    x, y, w, h = (v * page.scale for v in template.qr)
    m = 0.15 * max(w, h)
    y0, y1 = int(max(0, y - m)), int(min(page.image.shape[0], y + h + m))
    x0, x1 = int(max(0, x - m)), int(min(page.image.shape[1], x + w + m))
    region = page.image[y0:y1, x0:x1]
    if region.size == 0:
        return None
    big = cv2.resize(region, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    sharp = cv2.addWeighted(big, 2.0, cv2.GaussianBlur(big, (0, 0), 3), -1.0, 0)
    for img in (sharp, region):
        text = _qr.detectAndDecode(img)[0]
        if text:
            return str(text)
    return None
