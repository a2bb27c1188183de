"""The reader: photo bytes -> FormReading, stage by stage; bad input is a rejection, not a crash."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from sipantau.ocr.boxes import FieldCrops, cut_boxes
from sipantau.ocr.decode import decode
from sipantau.ocr.digits import DigitReader
from sipantau.ocr.errors import PhotoRejected, SipantauError, UnknownTemplate
from sipantau.ocr.locate import MarkersNotSeen, locate, on_larger_photo
from sipantau.ocr.locate_marks import on_sibling, second_chance
from sipantau.ocr.quality import assess, page_width_px
from sipantau.ocr.redraw import redraw
from sipantau.ocr.settings import ReadSettings
from sipantau.ocr.types import REVIEW, BoxReading, FormReading, GrayImage, Page, Reason
from sipantau.ocr.verdict import Verdict, judge
from sipantau.templates.model import Template
from sipantau.templates.render import parse_qr_payload

log = logging.getLogger("sipantau.read")

DebugSink = Callable[[str, np.ndarray], None]
PHOTO_QR_SIDES = (1600,)  # long side, px, a whole photo is searched for a QR code at first
PRINT_DIFFERS = Reason(
    "print_differs",
    "cetakan formulir ini berbeda dari referensinya: kotak angka dicari dari garis tabelnya; "
    "periksa setiap angka dengan fotonya",
)
FAILED = Reason(
    "processing_failed", "foto tidak dapat diproses; foto ulang, atau kirim untuk diperiksa"
)


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
            reading = FormReading(photo, template_id, "rejected", [Reason(exc.code, exc.message)])
        except SipantauError as exc:
            reading = FormReading(photo, template_id, "rejected", [Reason(exc.code, exc.message)])
        except Exception:  # a photo that breaks a stage must not stop the batch
            log.exception("reading %s failed", photo)
            reading = FormReading(photo, template_id, "rejected", [FAILED])
        reading.ms = (time.perf_counter() - t0) * 1000
        return reading

    def _read(self, data: bytes, photo: str, template_id: str | None) -> FormReading:
        decoded = decode(data, self.settings.decode)
        image = decoded.image
        template, page, tps, named = self._find(image, template_id)
        small = page_width_px(page) < 0.6 * self.settings.locate.canonical_width
        if decoded.reduction > 1 and small:
            # the page is small in the frame: read it from the full-size decode instead
            full = decode(data, self.settings.decode, full=True)
            factor = full.image.shape[1] / image.shape[1]
            image = full.image
            page = on_larger_photo(page, image, factor, template, self.settings.locate)
        if self.debug:
            self.debug("page", page.image)
        crops = cut_boxes(page, template)
        problems = assess(image, page, template, crops, self.settings.quality)
        if tps is None and not problems:  # not read while identifying; a retake reads it then
            tps = self._check_qr(page, template)
            if tps is None and not named:
                self._check_title(page, template)
        if problems:
            return FormReading(
                photo,
                template.id,
                "rejected",
                [Reason(p.code, p.message) for p in problems],
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
        if template.page.unit == "px":  # a registered form's boxes: not the model's shape
            probs = self._with_second_view(probs, crops)
        box_probs: dict[str, np.ndarray] = {}
        i = 0
        for name, fc in crops.items():
            box_probs[name] = probs[i : i + len(fc.crops)]
            i += len(fc.crops)
        verdict = judge(template, box_probs, self.settings.decision)
        other_print = page.boxes is not None
        if other_print:
            verdict = _held_for_the_print(verdict)
        for name, fr in verdict.fields.items():
            fr.boxes = [
                BoxReading(b, p) for b, p in zip(crops[name].boxes, box_probs[name], strict=True)
            ]
        reasons = review_reasons(verdict) + ([PRINT_DIFFERS] if other_print else [])
        return FormReading(
            photo, template.id, verdict.status, reasons, verdict.fields, tps=tps, page=page
        )

    def _with_second_view(self, probs: np.ndarray, crops: dict[str, FieldCrops]) -> np.ndarray:
        """Each box's probabilities averaged with those of its writing redrawn at the model's
        shape and scale (`ocr/redraw.py`), where it has such writing."""
        views = [
            redraw(c, (w, h))
            for fc in crops.values()
            for c, (_, _, w, h) in zip(fc.crops, fc.boxes, strict=True)
        ]
        seen = [(i, v) for i, v in enumerate(views) if v is not None]
        if not seen:
            return probs
        idx = [i for i, _ in seen]
        out = probs.copy()
        out[idx] = (probs[idx] + self.digits.predict([v for _, v in seen])) / 2.0
        return out

    def _find(
        self, image: GrayImage, template_id: str | None
    ) -> tuple[Template, Page, str | None, bool]:
        """The form, its page, the QR's TPS, and whether its title was already asked which form
        it is (identifying does; a chosen form is checked after the quality gates)."""
        if template_id is not None:
            if template_id not in self.templates:
                raise UnknownTemplate(f"templat '{template_id}' tidak dikenal")
            template = self.templates[template_id]
            return template, self._locate_chosen(image, template), None, False
        return self._identify_and_locate(image)

    def _locate_chosen(self, image: GrayImage, template: Template) -> Page:
        """The chosen form's page. Where its corner marks refuse the photo, a QR code naming
        another form says so before the blank form's features are tried (0.1 s, not 0.5 s+)."""
        full = self.settings.locate
        later = template.locator.kind == "corner_marks" and full.blank_features
        first = full.model_copy(update={"blank_features": False}) if later else full
        try:
            return locate(image, template, first)
        except PhotoRejected as exc:
            explained = self._explain_wrong_form(image, template, exc)
            if explained is not exc or not later or exc.code == "cut_off":
                raise explained from exc
            return second_chance(image, template, full, exc)

    def _check_qr(self, page: Page, template: Template) -> str | None:
        payload = page.identity or read_qr(page, template)
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

    def _check_title(self, page: Page, template: Template) -> None:
        """No QR payload: when another form shares this page frame (another race), its printed
        title must not say it is that one."""
        hit = self._titled(page, template)
        if hit and hit[0].id != template.id:
            raise PhotoRejected(
                "wrong_form",
                f"foto ini formulir '{hit[0].id}', bukan '{template.id}' (menurut judulnya)",
                detail=f"title read: {hit[1].strip()!r}",
            )

    def _titled(self, page: Page, template: Template) -> tuple[Template, str] | None:
        """Of the forms sharing `template`'s page frame, the one the page's printed title names,
        with the text read; None when no other form shares the frame or the title names none."""
        from sipantau.ocr.identify import match_title
        from sipantau.ocr.locate_orient import title_on_page

        siblings = [
            t
            for t in self.templates.values()
            if t.id != template.id and _frame(t) == _frame(template)
        ]
        text = title_on_page(page, template) if siblings else None
        hit = match_title(text, [template, *siblings]) if text else None
        return (hit[0], text or "") if hit else None

    def _photo_qr(self, image: GrayImage) -> tuple[str, str | None] | None:
        """(template id, TPS) from a QR code anywhere in the photo, when it names a known form."""
        from sipantau.ocr.identify import read_qr as read_photo_qr

        parsed = parse_qr_payload(read_photo_qr(image, sides=PHOTO_QR_SIDES) or "")
        return parsed if parsed and parsed[0] in self.templates else None

    def _explain_wrong_form(
        self, image: GrayImage, template: Template, exc: PhotoRejected
    ) -> PhotoRejected:
        """When the expected form is not found, say which form the photo shows: only when its
        QR code says so (another form's printed marks fitting is no evidence). A page cut off
        is retaken whole first: its QR is not searched for."""
        if exc.code == "cut_off":
            return exc
        parsed = self._photo_qr(image)
        if parsed and parsed[0] != template.id:
            return PhotoRejected(
                "wrong_form",
                f"foto ini formulir '{parsed[0]}', bukan '{template.id}'; "
                "pilih formulir yang benar",
                detail=f"QR code names {parsed[0]}; {exc.detail}",
            )
        return exc

    def _identify_and_locate(
        self, image: GrayImage, by_title: bool = True
    ) -> tuple[Template, Page, str | None, bool]:
        """Which known form is this? Each page frame's locator once (ArUco, then corner marks,
        then ArUco on the full-size photo where its reduced copy showed no marker), whose QR or
        title names the form; else a QR code anywhere in the photo; else the printed title.
        Frames go first: a found page shows its QR where the template prints it, a fraction of
        the cost of searching the whole photo for it."""
        refused: dict[str, tuple[str, PhotoRejected]] = {}  # frame -> (template id, reason)
        full = self.settings.locate
        glance = full.model_copy(update={"aruco_blind_search": False})  # no marker: later
        for kind, settings in (("aruco", glance), ("corner_marks", full), ("aruco", full)):
            for t in self.templates.values():
                frame = _frame(t)
                if t.locator.kind != kind:
                    continue
                if frame in refused and not isinstance(refused[frame][1], MarkersNotSeen):
                    continue
                try:
                    page = locate(image, t, settings)
                except PhotoRejected as exc:
                    refused[frame] = (t.id, exc)
                    continue
                return self._name_form(image, t, page)
        from sipantau.ocr.identify import QR_SIDES, FormNotIdentified, identify

        parsed = self._photo_qr(image)
        if parsed is None:
            # the title is read only for a form whose frame was not yet tried (an added form):
            # a form named by its title is located by its frame, which already said no
            untried = any(_frame(t) not in refused for t in self.templates.values())
            sides = [s for s in QR_SIDES if s not in PHOTO_QR_SIDES]
            try:
                ident = identify(
                    image, list(self.templates.values()), by_title and untried, qr_sides=sides
                )
            except FormNotIdentified:
                seen = [exc for _, exc in refused.values() if _saw_the_form(exc)]
                if seen and not untried:
                    raise seen[0] from None
                raise
            parsed = ident.template_id, ident.tps
        template = self.templates[parsed[0]]
        tried = refused.get(_frame(template))
        if tried is not None and tried[0] == template.id:
            raise tried[1]  # this form's locator already said why it cannot be read
        settings = self.settings.locate
        if tried is not None:  # a form of this frame had its blank tried: the same print and QR
            settings = settings.model_copy(update={"blank_features": False})
        return template, locate(image, template, settings), parsed[1], True

    def _name_form(
        self, image: GrayImage, t: Template, page: Page
    ) -> tuple[Template, Page, str | None, bool]:
        """Which form the page `t`'s locator found is, and its TPS: its QR code (on the page,
        else anywhere in the photo), else its printed title among the forms of this frame."""
        parsed = parse_qr_payload(page.identity or read_qr(page, t) or "")
        if parsed is None or parsed[0] not in self.templates:
            parsed = self._photo_qr(image)
        if parsed is None:
            hit = self._titled(page, t)
            other, tps = (hit[0] if hit else t), None
        else:
            other, tps = self.templates[parsed[0]], parsed[1]
        if other.id == t.id:
            return t, page, tps, True
        if _frame(other) == _frame(t):
            if not page.method.endswith("+print"):
                return other, page, tps, True  # the same page frame: the same warp serves
            again = on_sibling(image, page, other, self.settings.locate)  # refined on its print
            if again is not None:
                return other, again, tps, True
        return other, locate(image, other, self.settings.locate), tps, True


def _held_for_the_print(verdict: Verdict) -> Verdict:
    """Every field to review: boxes found by the order of a table's rows, on a print other than
    the reference, could as well be a like table of another form (another province's)."""
    for fr in verdict.fields.values():
        if fr.status == "ok":
            fr.status = "review"
            fr.reasons.append("cetakan berbeda dari referensi")
    return replace(verdict, status="review")


def _saw_the_form(exc: PhotoRejected) -> bool:
    """A locator's refusal that saw the form itself (its QR, title or markers): cut off, or
    found but not flat; a better answer than 'form not identified'."""
    from sipantau.ocr.locate_marks import NOT_FLAT

    return exc.code == "cut_off" or (exc.code, exc.message) == NOT_FLAT


def _frame(t: Template) -> str:
    """A template's page frame: templates that share it are located by the same warp."""
    return t.page.model_dump_json() + t.locator.model_dump_json()


def review_reasons(verdict: Verdict) -> list[Reason]:
    """The verdict's form-level reasons, each with the code of its cause."""
    codes: dict[str, str] = {}
    n = sum(f.status != "ok" for f in verdict.fields.values())
    codes[f"{n} kolom perlu diperiksa"] = "fields_to_review"
    for r in verdict.checks:
        if r.ok is False:
            codes.setdefault(r.message, "rule_broken")
        elif r.ok is None:
            codes.setdefault(f"{r.rule or r.expr}: tidak dapat diperiksa", "rule_unchecked")
    return [Reason(codes.get(text, REVIEW), text) for text in verdict.reasons]


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
    text = _qr.detectAndDecode(region)[0]  # as warped: 9 ms, and enough for nine in ten
    if text:
        return str(text)
    big = cv2.resize(region, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    sharp = cv2.addWeighted(big, 2.0, cv2.GaussianBlur(big, (0, 0), 3), -1.0, 0)
    text = _qr.detectAndDecode(sharp)[0]
    return str(text) if text else None
