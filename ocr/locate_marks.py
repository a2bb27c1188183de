"""Locate stage for C.HASIL forms: the four printed L marks give the geometry; which way up the
page lies is decided by evidence handwriting cannot fake (`ocr/locate_orient.py`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from sipantau.ocr.boxes import print_agreement
from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate import NOT_FOUND, make_page
from sipantau.ocr.reduce import reduced
from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Page
from sipantau.templates.model import Template

PATCH = 32  # px: side of the square a candidate mark is compared to the printed L at
THICK = 0.38  # arm thickness / arm length of the printed mark (templates/render.py)
MAX_CANDIDATES = 40  # best-fitting first: a checkered cloth or tiles make many poor Ls
FORESHORTENED = 0.4  # shortest/longest arm seen: a page tilted ~65 degrees away from the lens
MAX_FRAMES = 6  # largest first; a checkered cloth's squares make larger frames than the page's
MIN_FIT = 0.6  # IoU of a candidate, squared to its minimum-area rectangle, with the printed L
# squared 45 degrees from that instead (a turned L): strokes and box corners reach 0.6-0.67
# that way, the printed marks of steep evaluation photos 0.76-0.9
MIN_FIT_TURNED = 0.72
TURNED_GATE = 0.3  # squared to its minimum-area rectangle, a turned L still reaches 0.39
TURNED_SOLIDITY = 0.8  # area / hull area: printed L's 0.62-0.9 (median 0.72), other blobs 0.92


def _ideal_l() -> np.ndarray:
    """The printed mark in a PATCH square, outer corner top-left, arms along top and left."""
    t = int(round(THICK * PATCH))
    ideal = np.zeros((PATCH, PATCH), np.float32)
    ideal[:t] = 1
    ideal[:, :t] = 1
    return ideal


IDEALS = np.stack([np.rot90(_ideal_l(), -k) > 0.5 for k in range(4)])  # outer corner: corner k
# solid print: darker than 0.55 x the paper around it; per paper level, the first gray that is not
_PRINT_BELOW = (
    (np.arange(256)[None, :] < 0.55 * np.arange(256)[:, None]).sum(axis=1).astype(np.uint8)
)


@dataclass(frozen=True)
class Mark:
    """An L mark found in the photo (photo pixels of the reduced copy it was found on)."""

    corner: np.ndarray  # outer corner
    arms: np.ndarray  # 2 x 2: unit vectors along the two arms, from the corner
    arm_len: float  # mean arm length
    fit: float  # IoU with the printed L


def _boxes(contour: np.ndarray) -> Iterator[np.ndarray]:
    """Rectangles an L may be squared to (4 corners, in order), made as they are asked for: its
    minimum-area rectangle, then its bounding rectangle turned 45 degrees from that, since an L
    seen turned and foreshortened (a page turned in a steep photo) may have its minimum-area
    rectangle along its diagonal."""
    rect = cv2.minAreaRect(contour)
    yield cv2.boxPoints(rect).astype(np.float32)
    pts = contour.reshape(-1, 2).astype(np.float64)
    t = np.radians(rect[2] + 45.0)
    u, v = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    a, b = pts @ u, pts @ v
    corners = [(a.min(), b.min()), (a.max(), b.min()), (a.max(), b.max()), (a.min(), b.max())]
    yield np.array([x * u + y * v for x, y in corners], np.float32)


def _solidity(contour: np.ndarray) -> float:
    return float(cv2.contourArea(contour)) / max(
        float(cv2.contourArea(cv2.convexHull(contour))), 1.0
    )


def _as_mark(binary: np.ndarray, contour: np.ndarray) -> Mark | None:
    """The contour as an L mark, when its rectified patch matches the printed L (IoU): squared
    to its minimum-area rectangle, else (a turned L) to the first of `_boxes` that matches
    better (`MIN_FIT_TURNED`)."""
    dst = np.array([[0, 0], [PATCH, 0], [PATCH, PATCH]], dtype=np.float32)
    for i, box in enumerate(_boxes(contour)):
        side = np.linalg.norm(box[1] - box[0]), np.linalg.norm(box[2] - box[1])
        if min(side) < 4 or min(side) < FORESHORTENED * max(side):
            continue  # an L's arms are printed the same length
        M = cv2.getAffineTransform(box[:3], dst)
        patch = cv2.warpAffine(binary, M, (PATCH, PATCH), flags=cv2.INTER_LINEAR) > 127
        inter = np.count_nonzero(patch & IDEALS, axis=(1, 2))
        iou = inter / np.maximum(1, np.count_nonzero(patch | IDEALS, axis=(1, 2)))
        k_best = int(np.argmax(iou))
        best = float(iou[k_best])
        if best >= (MIN_FIT if i == 0 else MIN_FIT_TURNED):
            break
        if i == 0 and (best < TURNED_GATE or _solidity(contour) > TURNED_SOLIDITY):
            return None  # nothing like an L (most candidates): not worth squaring another way
    else:
        return None
    # patch corner k (clockwise from top-left) is box corner k: the outer corner of the L
    corner = box[k_best].astype(np.float64)
    nxt, prv = box[(k_best + 1) % 4], box[(k_best - 1) % 4]
    arms = np.array([nxt - corner, prv - corner], np.float64)
    lens = np.linalg.norm(arms, axis=1)
    if i > 0:  # a turned L is not square to its rectangle: its corner is the outline's point
        pts = contour.reshape(-1, 2).astype(np.float64)  # furthest out towards that corner
        corner = pts[int(np.argmax(pts @ (corner - box.mean(axis=0))))]
    return Mark(corner, arms / lens[:, None], float(lens.mean()), best)


def find_marks(photo: GrayImage, min_page_fraction: float) -> tuple[list[Mark], float]:
    """Candidate L marks on a reduced copy (at most ~1000 px), and that copy's scale factor."""
    small, f = reduced(photo, 1000)
    # solid print is much darker than the paper around it (a dark table is not)
    paper = cv2.dilate(small, np.ones((31, 31), np.uint8))
    binary = cv2.compare(small, cv2.LUT(paper, _PRINT_BELOW), cv2.CMP_LT)
    min_area, max_area = small.size * min_page_fraction * 4e-5, small.size * 0.01
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    marks = []
    for c in contours:
        area = cv2.contourArea(c)
        if not min_area <= area <= max_area:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(c)
        if area / max(cv2.arcLength(c, True), 1.0) < 0.1 * np.sqrt(rw * rh):
            continue  # strokes too thin for a printed mark (handwriting, box lines)
        if not 0.4 < area / max(rw * rh, 1.0) < 0.85:
            continue  # an L fills ~0.62 of its bounding square (cheap test before the patch)
        mark = _as_mark(binary, c)
        if mark is not None:
            marks.append(mark)
    marks.sort(key=lambda m: -m.fit)
    return marks[:MAX_CANDIDATES], f


def order_clockwise(idx: tuple[int, ...], pts: np.ndarray) -> list[int]:
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    return [idx[i] for i in np.argsort(ang)]  # image y points down: increasing angle is clockwise


def fits_frame(marks: list[Mark], quad: np.ndarray, rel_arm: np.ndarray) -> bool:
    """Each mark's arms run along the quad's two edges from its corner, and are as long,
    relative to those edges, as the template prints them (within a factor 1.6)."""
    n = len(quad)
    for i, m in enumerate(marks):
        edges = [quad[(i + 1) % n] - quad[i], quad[(i - 1) % n] - quad[i]]
        for e, r in zip(edges, rel_arm[i], strict=True):
            length = float(np.linalg.norm(e))
            if length < 1e-6 or max(float(a @ e) for a in m.arms) / length < 0.94:
                return False  # no arm along this edge (20 degrees)
            ratio = m.arm_len / (length * r)
            if not 1 / 1.6 <= ratio <= 1.6:
                return False
    return cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2))


def _rel_arms(template: Template) -> np.ndarray:
    """Per mark (clockwise), arm length / the two adjacent frame edges (either orientation)."""
    c = np.array(template.locator.corners, np.float64)
    a = template.locator.mark_size
    w, h = np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[3] - c[0])
    return np.array([[a / w, a / h], [a / h, a / w]] * 2)


def pointing(marks: list[Mark], pts: np.ndarray) -> np.ndarray:
    """P[i, j]: an arm of mark i runs towards mark j (within 20 degrees)."""
    d = pts[None, :, :] - pts[:, None, :]
    d = d / (np.linalg.norm(d, axis=2, keepdims=True) + 1e-9)
    arms = np.array([m.arms for m in marks])  # n x 2 x 2
    cos = np.einsum("iad,ijd->ija", arms, d).max(axis=2)
    return cos >= 0.94


def mark_quads(photo: GrayImage, template: Template, settings: LocateSettings) -> list[np.ndarray]:
    """Quads of four L marks (outer corners, clockwise, photo px) that fit the template's frame,
    largest first; else frames completed from three or two marks (`partial` below)."""
    return [q for q, _ in mark_frames(photo, template, settings)]


def mark_frames(
    photo: GrayImage, template: Template, settings: LocateSettings, partial: bool = False
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(quad, real): four marks' quads (real None), else (or with `partial`, only) ones
    completed from fewer marks (real: which corners are marks found; ocr/locate_partial.py)."""
    from sipantau.ocr.locate_partial import partial_frames

    marks, f = find_marks(photo, settings.min_page_fraction)
    rel = _rel_arms(template)
    pts = np.array([m.corner for m in marks]).reshape(-1, 2)
    if len(marks) < 2:
        return []
    size = (photo.shape[0] * f, photo.shape[1] * f)
    if partial:
        return [(q / f, real) for q, real in partial_frames(marks, pts, rel, size)]
    P = pointing(marks, pts)
    mutual = P & P.T  # adjacent marks of a frame point at each other
    quads: dict[tuple[int, ...], tuple[float, np.ndarray]] = {}
    n = len(marks)
    for a in range(n):
        for b, c in itertools.combinations(np.flatnonzero(mutual[a]), 2):
            for d in np.flatnonzero(mutual[b] & mutual[c]):
                if d == a or len({a, b, c, d}) < 4:
                    continue
                key = tuple(sorted((a, int(b), int(c), int(d))))
                if key in quads:
                    continue
                order = order_clockwise(key, pts[list(key)])
                quad = pts[order]
                area = float(cv2.contourArea(quad.astype(np.float32)))
                if area < settings.min_page_fraction * photo.size * f * f:
                    continue
                mk = [marks[i] for i in order]
                # the frame is not square: try it both ways round (short edge first or second)
                if any(fits_frame(mk, quad, np.roll(rel, s, axis=0)) for s in (0, 1)):
                    quads[key] = (area, quad / f)
    if not quads:
        return [(q / f, real) for q, real in partial_frames(marks, pts, rel, size)]
    return [(q, None) for _, q in sorted(quads.values(), key=lambda q: -q[0])[:MAX_FRAMES]]


def locate_corner_marks(photo: GrayImage, template: Template, settings: LocateSettings) -> Page:
    """The page by its L marks; when no frame of them serves and the page is not cut off, by
    features matched to the blank form (`ocr/locate_blank.py`), if its QR code reads."""
    try:
        return by_marks(photo, template, settings)
    except PhotoRejected as exc:
        if exc.code == "cut_off" or not settings.blank_features:
            raise
        return second_chance(photo, template, settings, exc)


def second_chance(
    photo: GrayImage, template: Template, settings: LocateSettings, refused: PhotoRejected
) -> Page:
    """The page by the blank form's features after the marks `refused` it; when that fails
    too, the marks' reason (or, where the print was seen, the advice to flatten the sheet)."""
    from sipantau.ocr.locate_blank import locate_by_blank

    try:
        return locate_by_blank(photo, template, settings)
    except PhotoRejected as second:
        detail = f"{refused.detail}; blank form's features: {second.detail}"
        if second.code == "cut_off":  # its print aligned, number boxes out: the side is known
            raise PhotoRejected(second.code, second.message, detail=detail) from refused
        flat = refused.code == second.code and second.message == NOT_FLAT[1]
        message = second.message if flat else refused.message  # the print seen: flatten it
        raise PhotoRejected(refused.code, message, detail=detail) from refused


def by_marks(photo: GrayImage, template: Template, settings: LocateSettings) -> Page:
    """The L marks' frame, turned the way its QR code (else its printed title) says; a frame
    completed from fewer marks is refined on the printed lines, else the page is cut off. When
    every frame of four marks is refused, frames of three or two of them are tried too."""
    from sipantau.ocr.locate_orient import by_lines_or_similarity, orient, turns
    from sipantau.ocr.locate_partial import (
        boxes_in_photo,
        cut_off_rejection,
        find_ghosts,
        refine_on_print,
    )

    frames = mark_frames(photo, template, settings)
    if not frames:
        raise PhotoRejected(*NOT_FOUND, detail="no four corner marks fit the form's frame")
    why, cut, unclear, bent = [], None, False, False
    # after every frame of four marks, those completed from fewer of them (one of the four may be
    # a tile's corner or a stroke): a second chance to read, never a cut-off verdict
    second = len(frames) if frames[0][1] is None else None

    # frames of four whose missing marks were found after all, tried next (see below)
    completed: list[np.ndarray] = []

    def listed() -> Iterator[tuple[np.ndarray, np.ndarray | None, bool]]:
        yield from ((q, r, False) for q, r in frames)
        if second is not None:  # only once every frame of four is refused (most read the first)
            partial = mark_frames(photo, template, settings, partial=True)
            yield from ((q, r, True) for q, r in partial)

    def candidates() -> Iterator[tuple[np.ndarray, np.ndarray | None, bool, bool]]:
        """(quad, real, retry, searched): `searched`, a frame whose fourth mark was searched."""
        for quad, real, retry in listed():
            yield quad, real, retry, False
            while completed:
                yield completed.pop(0), None, retry, True

    for k, (quad, real, retry, searched) in enumerate(candidates()):
        found = orient(photo, template, quad, settings, k == 0, real is not None)  # tesseract once
        if isinstance(found, str) and real is not None:
            # a corner completed from the others' arms is far off on a steep photo, and the QR
            # code is then looked for in the wrong place: the missing mark may be in the photo
            ghosts = _ghosts_found(photo, template, quad, real)
            completed.extend(ghosts)
            if not ghosts:
                found = by_lines_or_similarity(photo, template, quad, settings)
        if isinstance(found, str):
            why.append(found)
            unclear |= real is None and not searched  # four marks found, not one searched for
            continue
        H, evidence, payload = found
        if real is not None:
            quad, real = find_ghosts(photo, template, H, quad, real)
            if real.all():  # every mark found after all: a whole frame, turned as found
                H = _same_turn(turns(quad, template), H, quad)
                real = None
        if real is not None:
            out = cut_off_rejection(photo, quad, evidence, boxes_in_photo(template, H))
            if out.code == "cut_off" and evidence in FORM_EVIDENCE:
                if retry:
                    continue
                raise out  # number boxes well out of the photo: no refinement can read them
            refined = refine_on_print(photo, template, H)
            if refined is None:
                why.append(f"partial frame ({evidence}): printed lines do not align")
                if evidence in FORM_EVIDENCE and cut is None and not retry:
                    cut = quad  # the form's own QR, title or print: it is there, and runs out
                continue
            H, evidence = refined[0], f"{evidence}+print"
        page = make_page(photo, template, H, f"corner_marks/{evidence}", settings, payload)
        if real is not None:
            return page  # checked on the printed lines
        # The QR or title says which way the form is turned, not that every corner is one of
        # its marks (a tablecloth's squares make L's too): the printed boxes must lie right.
        agreement = print_agreement(page, template)
        if agreement >= settings.min_print_agreement:
            return page
        snapped = _marks_snapped(photo, template, H, quad)  # a corner may be off
        if snapped is not None:
            again = make_page(photo, template, snapped, page.method, settings, payload)
            if print_agreement(again, template) >= settings.min_print_agreement:
                return again
        refined = refine_on_print(photo, template, H) if payload is not None else None
        if refined is not None:
            H, evidence = refined[0], f"{evidence}+print"
            page = make_page(photo, template, H, f"corner_marks/{evidence}", settings, payload)
            if print_agreement(page, template) >= settings.min_print_agreement:
                return page
        why.append(f"frame ({evidence}): printed boxes do not line up ({agreement:.2f})")
        bent |= payload is not None  # the form's own QR read: it is there, but will not lie flat
    if cut is not None:
        raise cut_off_rejection(photo, cut, "; ".join(why))
    reason = UNCLEAR if unclear else NOT_FLAT if bent else NOT_FOUND
    raise PhotoRejected(*reason, detail="; ".join(why))


def _marks_snapped(
    photo: GrayImage, template: Template, H: np.ndarray, quad: np.ndarray
) -> np.ndarray | None:
    """The frame's homography (same turn) once each of its four corners is looked for again by
    the printed mark's shape where `H` puts it: one corner may be a tile's L or a far-off
    completed corner beside the real mark. None unless all four are found."""
    from sipantau.ocr.locate_orient import turns
    from sipantau.ocr.locate_partial import find_ghosts

    q, found = find_ghosts(photo, template, H, quad, np.zeros(4, bool))
    if not found.all() or np.abs(q - quad).max() < GHOST_SAME_PX:
        return None
    return _same_turn(turns(q, template), H, quad)


def _ghosts_found(
    photo: GrayImage, template: Template, quad: np.ndarray, real: np.ndarray
) -> list[np.ndarray]:
    """Frames of four marks from one completed from fewer: each missing mark looked for where
    the frame, in each of its turns, puts it (`find_ghosts`); distinct quads, as found."""
    from sipantau.ocr.locate_orient import turns
    from sipantau.ocr.locate_partial import find_ghosts

    out: list[np.ndarray] = []
    for H in turns(quad, template):
        if not np.isfinite(H).all():
            continue
        q, r = find_ghosts(photo, template, H, quad, real)
        if r.all() and not any(np.abs(q - o).max() < GHOST_SAME_PX for o in out):
            out.append(q)
    return out


def on_sibling(
    photo: GrayImage, page: Page, other: Template, settings: LocateSettings
) -> Page | None:
    """A page refined on one form's print, laid as `other`, a form of the same page frame: refined
    again on `other`'s own print from where it lies (not located afresh); None when its printed
    lines or boxes do not lie right."""
    from sipantau.ocr.locate_partial import refine_on_print

    to_units = np.diag([1 / page.scale, 1 / page.scale, 1.0]) @ page.homography
    refined = refine_on_print(photo, other, to_units)
    if refined is None:
        return None
    again = make_page(photo, other, refined[0], page.method, settings, page.identity)
    return again if print_agreement(again, other) >= settings.min_print_agreement else None


def _same_turn(Hs: list[np.ndarray], H: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Of the four turns of the completed quad, the one that agrees with `H` at its corners."""
    here = cv2.perspectiveTransform(quad[None].astype(np.float64), H)[0]
    errs = [
        np.abs(cv2.perspectiveTransform(quad[None].astype(np.float64), G)[0] - here).max()
        if np.isfinite(G).all()
        else np.inf
        for G in Hs
    ]
    return Hs[int(np.argmin(errs))]


# what shows that a completed frame is this form (similarity does not): its QR code, its title,
# its printed lines
FORM_EVIDENCE = ("qr", "title", "lines")
GHOST_SAME_PX = 3.0  # two turns that found a missing mark within this of each other found one

NOT_FLAT = (
    "form_not_found",
    "formulir terlihat, tetapi kotak angkanya tidak dapat diluruskan; ratakan kertas di atas "
    "alas polos dan foto ulang tegak lurus dari atas",
)
UNCLEAR = (
    "orientation_unclear",
    "arah formulir tidak dapat dipastikan: kode QR dan judul tidak terbaca; foto ulang "
    "seluruh halaman dengan kode QR dan judul terlihat jelas",
)
