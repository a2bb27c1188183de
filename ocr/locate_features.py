"""Feature locator for registered forms: RootSIFT keypoints of the reference scan (handwriting
areas masked out), ratio test, MAGSAC++ homography, ECC refinement on the printed lines; a
measured alignment of those lines decides between located and `form_not_found`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from sipantau.ocr.boxes import to_px
from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate import make_page, page_corners
from sipantau.ocr.locate_align import Alignment, alignment, line_image, refine_ecc
from sipantau.ocr.locate_cells import BoxLayout
from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Homography, Page
from sipantau.templates.model import Template

NOT_FOUND = (
    "form_not_found",
    "formulir tidak ditemukan di foto, ulangi dengan seluruh halaman terlihat",
)
Points = npt.NDArray[np.float32]  # N x 2
BoxList = Sequence[Sequence[float]]  # x, y, w, h in reference px
FieldBoxes = Sequence[tuple[str, BoxList]]  # each field's boxes


class FeatureSettings(BaseModel):
    """Thresholds of the feature locator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # photo long sides tried, px (SIFT doubles its input first, so 800 resolves a 1600 px photo)
    work_sides: tuple[int, ...] = (800, 1400)
    reference_side: int = Field(default=1600, ge=400)  # reference long side features come from
    n_features: int = Field(default=4000, ge=500)
    ratio: float = Field(default=0.8, gt=0, lt=1)  # Lowe's ratio test
    ransac_px: float = Field(default=4.0, gt=0)  # reprojection threshold, reference px
    min_inliers: int = Field(default=12, ge=8)  # fewer: no homography worth measuring
    box_margin: float = Field(default=0.4, ge=0)  # handwriting mask: boxes grown by this x side
    near_margin: float = Field(default=2.0, ge=0)  # the print around the boxes: grown this much
    ecc_width: int = Field(default=480, ge=200)  # px, the reference width lines are aligned at
    # measured alignment of the printed lines (see ocr/locate_align.py)
    min_line_ncc: float = Field(default=0.2, ge=0, le=1)
    min_line_peak: float = Field(default=0.3, ge=0, le=1)
    min_page_fraction: float = Field(default=0.12, gt=0, lt=1)  # page area / photo area
    max_side_ratio: float = Field(default=6.0, gt=1)  # longest / shortest quad side


_sift = cv2.SIFT_create


def _root_sift(desc: np.ndarray) -> np.ndarray:
    """RootSIFT (Hellinger kernel): more robust to lighting than plain SIFT distances."""
    desc = desc / (np.abs(desc).sum(axis=1, keepdims=True) + 1e-7)
    return np.sqrt(desc).astype(np.float32)


def _detect(
    image: GrayImage, side: int, n: int, mask: np.ndarray | None = None
) -> tuple[Points, np.ndarray | None]:
    """Keypoints (in `image`'s own pixels) and RootSIFT descriptors, found at long side `side`."""
    f = min(1.0, side / max(image.shape[:2]))
    small = image if f == 1.0 else cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    m = None
    if mask is not None:
        m = (
            mask
            if f == 1.0
            else cv2.resize(mask, small.shape[::-1], interpolation=cv2.INTER_NEAREST)
        )
    kps, desc = _sift(nfeatures=n, contrastThreshold=0.02).detectAndCompute(small, m)
    pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2) / f
    return pts, (None if desc is None else _root_sift(desc))


def handwriting_mask(size: tuple[int, int], boxes: BoxList, margin: float) -> np.ndarray:
    """255 where the reference shows print only; 0 over the boxes (grown by `margin` x their
    larger side), where the reference and every photo carry handwriting of their own."""
    mask = np.full((size[1], size[0]), 255, np.uint8)
    for x, y, w, h in boxes:
        g = margin * max(w, h)
        x0, y0 = int(max(0, x - g)), int(max(0, y - g))
        cv2.rectangle(mask, (x0, y0), (int(x + w + g), int(y + h + g)), 0, -1)
    return mask


@dataclass(frozen=True)
class FeatureIndex:
    """A reference scan's keypoints, descriptors and printed-line image, computed once."""

    points: Points  # reference px
    descriptors: np.ndarray
    size: tuple[int, int]  # reference width, height
    lines: np.ndarray  # line image at ecc scale
    lines_mask: np.ndarray  # uint8, 255 where the lines count (print, not handwriting)
    near_boxes: np.ndarray  # uint8, 255 around the boxes: where alignment matters most
    layout: BoxLayout | None = None  # the boxes as rows of ruled cells, where they are

    @classmethod
    def build(
        cls,
        reference: GrayImage,
        settings: FeatureSettings | None = None,
        boxes: BoxList = (),
        fields: FieldBoxes = (),
    ) -> FeatureIndex:
        """The index; with `fields` (each field's boxes) also their layout of ruled cells, and
        their boxes masked where `boxes` names none."""
        s = settings or FeatureSettings()
        boxes = boxes or [b for _, bs in fields for b in bs]
        if reference.ndim == 3:
            reference = cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY)
        size = (reference.shape[1], reference.shape[0])
        mask = handwriting_mask(size, boxes, s.box_margin)
        pts, desc = _detect(reference, s.reference_side, s.n_features, mask)
        if desc is None or len(pts) < 50:
            raise ValueError("reference scan has too few features to register against")
        k = min(1.0, s.ecc_width / size[0])
        esize = (int(round(size[0] * k)), int(round(size[1] * k)))
        small = cv2.resize(reference, esize, interpolation=cv2.INTER_AREA)
        emask = cv2.resize(mask, esize, interpolation=cv2.INTER_NEAREST)
        near = 255 - handwriting_mask(size, boxes, s.near_margin) if boxes else 255 + 0 * mask
        near = cv2.resize(near, esize, interpolation=cv2.INTER_NEAREST)
        layout = BoxLayout.build(reference, fields) if fields else None
        return cls(pts, desc, size, line_image(small), emask, near, layout)

    @property
    def ecc_scale(self) -> float:
        return self.lines.shape[1] / self.size[0]


_flann = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 48})


def _match(desc: np.ndarray, index: FeatureIndex, ratio: float) -> list[tuple[int, int]]:
    """(photo i, reference j) pairs that pass the ratio test (seeded: the same photo is always
    read the same way)."""
    cv2.setRNGSeed(20240127)
    pairs = []
    for m in _flann.knnMatch(desc, index.descriptors, k=2):
        if len(m) == 2 and m[0].distance < ratio * m[1].distance:
            pairs.append((m[0].queryIdx, m[0].trainIdx))
    return pairs


def _signed_area(q: np.ndarray) -> float:
    x, y = q[:, 0], q[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def check_quad(quad: np.ndarray, photo_shape: tuple[int, ...], s: FeatureSettings) -> str | None:
    """Why the page quad found in the photo is implausible, or None when it looks like a page."""
    if not np.all(np.isfinite(quad)):
        return "homography is degenerate"
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return "page quad is not convex"
    area = _signed_area(quad)
    if area <= 0:
        return "page quad is mirrored"
    if area < s.min_page_fraction * photo_shape[0] * photo_shape[1]:
        return "page too small in the photo"
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    if sides.max() > s.max_side_ratio * sides.min():
        return "page quad too skewed"
    return None


def _coarse(
    photo: GrayImage, index: FeatureIndex, side: int, s: FeatureSettings
) -> tuple[Homography | None, str]:
    """Photo px -> reference px from matched features (MAGSAC++), or None and why not."""
    pts, desc = _detect(photo, side, s.n_features)
    pairs = _match(desc, index, s.ratio) if desc is not None and len(pts) >= 2 else []
    if len(pairs) < s.min_inliers:
        return None, f"{len(pairs)} feature matches"
    src = pts[[i for i, _ in pairs]]
    dst = index.points[[j for _, j in pairs]]
    H, mask = cv2.findHomography(
        src, dst, cv2.USAC_MAGSAC, s.ransac_px, maxIters=5000, confidence=0.999
    )
    inliers = int(mask.sum()) if mask is not None else 0
    if H is None or inliers < s.min_inliers:
        return None, f"{inliers} inliers of {len(pairs)} matches"
    return H, f"{inliers} inliers of {len(pairs)} matches"


def _warp_lines(
    photo: GrayImage, H: Homography, index: FeatureIndex
) -> tuple[np.ndarray, np.ndarray]:
    """The photo warped onto the reference at ecc scale, as a line image, and where it lies."""
    S = np.diag([index.ecc_scale, index.ecc_scale, 1.0]) @ H
    zoom = float(np.sqrt(abs(np.linalg.det(S[:2, :2]))))  # photo px -> ecc px, roughly
    f = min(1.0, 1.5 * zoom)  # pre-shrink so the warp does not alias
    if f < 1.0:
        photo = cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        S = S @ np.diag([1 / f, 1 / f, 1.0])
    size = index.lines.shape[::-1]
    warped = cv2.warpPerspective(photo, S, size, flags=cv2.INTER_LINEAR, borderValue=255)
    inside = cv2.warpPerspective(np.full(photo.shape, 255, np.uint8), S, size, borderValue=0)
    inside = cv2.erode(inside, np.ones((7, 7), np.uint8))
    return line_image(warped), cv2.bitwise_and(inside, index.lines_mask)


def _refined(
    photo: GrayImage, H: Homography, index: FeatureIndex
) -> tuple[Homography, Alignment, Alignment]:
    """The coarse homography refined by ECC on the printed lines (when that aligns better); its
    alignment over the page and over the print around the boxes (a crumpled or different print
    can align on the whole and not where the numbers are)."""
    lines, mask = _warp_lines(photo, H, index)
    best = (H, alignment(index.lines, lines, mask))
    W = refine_ecc(index.lines, lines, mask)
    if W is not None:
        S = np.diag([index.ecc_scale, index.ecc_scale, 1.0])
        H2 = np.linalg.inv(S) @ np.linalg.inv(W) @ S @ H
        lines2, mask2 = _warp_lines(photo, H2, index)
        a2 = alignment(index.lines, lines2, mask2)
        if a2.correlation > best[1].correlation:
            best, mask = (H2, a2), mask2
            lines = lines2
    near = alignment(index.lines, lines, cv2.bitwise_and(mask, index.near_boxes))
    return best[0], best[1], near


def _implausible(
    H: Homography, photo_shape: tuple[int, ...], index: FeatureIndex, s: FeatureSettings
) -> str | None:
    """Why the reference's outline, mapped into the photo by `H`, cannot be the page."""
    w, h = index.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    try:
        quad = cv2.perspectiveTransform(corners[None], np.linalg.inv(H))[0]
    except np.linalg.LinAlgError:
        return "homography is degenerate"
    return check_quad(quad, photo_shape, s)


def plausible_homographies(
    photo: GrayImage, index: FeatureIndex, s: FeatureSettings, why: list[str]
) -> Iterator[tuple[int, Homography, str]]:
    """(long side, photo px -> reference px, how many matches) at each scale whose matches
    give a plausible page, smallest first; why each other scale gave none goes into `why`."""
    long_side = max(photo.shape[:2])
    for side in [side for side in s.work_sides if side < long_side] or [long_side]:
        H, detail = _coarse(photo, index, side, s)
        bad = "no homography" if H is None else _implausible(H, photo.shape, index, s)
        if H is None or bad:
            why.append(f"@{side}: {detail}, {bad}")
            continue
        yield side, H, detail


def register(
    photo: GrayImage,
    index: FeatureIndex,
    s: FeatureSettings,
    misses: list[tuple[Homography, Alignment]] | None = None,
) -> tuple[Homography, Alignment]:
    """Photo px -> reference px at the first scale whose printed lines measurably line up; the
    refined homographies of the scales that did not line up go into `misses`."""
    why: list[str] = []
    for side, H, detail in plausible_homographies(photo, index, s, why):
        H, a, near = _refined(photo, H, index)
        if all(x.correlation >= s.min_line_ncc and x.peak >= s.min_line_peak for x in (a, near)):
            return H, a
        why.append(f"@{side}: {detail}, {a.summary()}; near the boxes {near.summary()}")
        if misses is not None:
            misses.append((H, a))
    raise PhotoRejected(*NOT_FOUND, detail="; ".join(why))


def locate_by_features(
    photo: GrayImage,
    template: Template,
    reference: GrayImage | FeatureIndex,
    canonical_width: int,
    settings: FeatureSettings | None = None,
) -> Page:
    """Warp `photo` onto `template`'s canonical page by registering it to the reference scan."""
    s = settings or FeatureSettings()
    if isinstance(reference, FeatureIndex):
        index = reference
    else:
        index = FeatureIndex.build(
            reference, s, fields=[(f.name, f.boxes) for f in template.fields]
        )
    misses: list[tuple[Homography, Alignment]] = []
    units = np.diag([template.page.width / index.size[0], template.page.height / index.size[1], 1])
    page_settings = LocateSettings(canonical_width=canonical_width)
    try:
        H_ref, _ = register(photo, index, s, misses)
    except PhotoRejected as exc:
        return _by_cells(photo, template, index, units, page_settings, misses, s, exc)
    return make_page(
        photo,
        template,
        _photo_to_units(units @ H_ref, photo, template, s),
        "features",
        page_settings,
    )


def _photo_to_units(
    photo_to_units: Homography, photo: GrayImage, template: Template, s: FeatureSettings
) -> Homography:
    """`photo_to_units`, once the template's page it maps into the photo looks like a page."""
    try:
        quad = cv2.perspectiveTransform(
            page_corners(template)[None], np.linalg.inv(photo_to_units)
        )[0]
    except np.linalg.LinAlgError:
        quad = np.full((4, 2), np.nan)
    why = check_quad(quad, photo.shape, s)
    if why:
        raise PhotoRejected(*NOT_FOUND, detail=why)
    return photo_to_units


def _by_cells(
    photo: GrayImage,
    template: Template,
    index: FeatureIndex,
    units: Homography,
    page_settings: LocateSettings,
    misses: list[tuple[Homography, Alignment]],
    s: FeatureSettings,
    exc: PhotoRejected,
) -> Page:
    """Another print of the form, whose rows moved: its number boxes found as the reference's
    rows of ruled cells, by their order, on the photo warped by a homography under which the
    page's print as a whole lines up. Else `exc` stands."""
    if index.layout is None:
        raise exc
    for H, a in sorted(misses, key=lambda m: -m[1].correlation):
        if a.correlation < s.min_line_ncc:
            break
        try:
            photo_to_units = _photo_to_units(units @ H, photo, template, s)
        except PhotoRejected:
            continue
        page = make_page(photo, template, photo_to_units, "features+cells", page_settings)
        found = index.layout.find(page.image)
        if found is None:
            continue
        k = page.image.shape[1] / index.size[0]  # reference px -> canonical px
        return replace(page, boxes={n: [to_px(list(b), k) for b in bs] for n, bs in found.items()})
    raise exc


def reference_path(template: Template) -> Path:
    """The reference scan of a registered template, next to its YAML."""
    from sipantau.templates.registry import template_path

    if not template.locator.reference:
        raise ValueError(f"template {template.id} has no reference image")
    return template_path(template.id).parent / template.locator.reference


@lru_cache(maxsize=16)
def _cached_index(path: Path, mtime: float, fields: FieldBoxes) -> FeatureIndex:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"cannot read reference scan {path}")
    return FeatureIndex.build(image, fields=fields)


def index_for(template: Template) -> FeatureIndex:
    """The template's FeatureIndex, built once per reference file (and again if it changes)."""
    path = reference_path(template)
    fields = tuple((f.name, tuple(tuple(b) for b in f.boxes)) for f in template.fields)
    return _cached_index(path, path.stat().st_mtime, fields)


def locate_features_for(photo: GrayImage, template: Template, settings: LocateSettings) -> Page:
    """`ocr/locate.py`'s entry: the registered reference, found next to the template file."""
    return locate_by_features(photo, template, index_for(template), settings.canonical_width)
