"""Feature locator for registered forms: ORB keypoints, ratio test, RANSAC homography to a scan."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate import make_page, page_corners
from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Homography, Page
from sipantau.templates.model import Template

NOT_FOUND = (
    "form_not_found",
    "formulir tidak ditemukan di foto, ulangi dengan seluruh halaman terlihat",
)
Points = npt.NDArray[np.float32]  # N x 2


class FeatureSettings(BaseModel):
    """Thresholds of the feature locator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work_side: int = Field(default=1100, ge=400)  # long side, px, the images are matched at
    n_features: int = Field(default=5000, ge=500)
    ratio: float = Field(default=0.75, gt=0, lt=1)  # Lowe's ratio test
    ransac_px: float = Field(default=3.0, gt=0)  # reprojection threshold, photo px at work size
    min_inliers: int = Field(default=40, ge=8)
    min_inlier_ratio: float = Field(default=0.25, ge=0, le=1)
    min_page_fraction: float = Field(default=0.12, gt=0, lt=1)  # page area / photo area
    max_side_ratio: float = Field(default=6.0, gt=1)  # longest / shortest quad side


def _detect(image: GrayImage, s: FeatureSettings) -> tuple[Points, np.ndarray | None]:
    """Keypoints (in `image`'s own pixels) and ORB descriptors, found at the work size."""
    f = min(1.0, s.work_side / max(image.shape[:2]))
    small = image if f == 1.0 else cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    orb = cv2.ORB_create(nfeatures=s.n_features, scaleFactor=1.2, nlevels=8, fastThreshold=10)
    kps, desc = orb.detectAndCompute(small, None)
    pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2) / f
    return pts, desc


@dataclass(frozen=True)
class FeatureIndex:
    """A reference scan's keypoints and descriptors, computed once per template."""

    points: Points  # reference px
    descriptors: np.ndarray
    size: tuple[int, int]  # reference width, height

    @classmethod
    def build(cls, reference: GrayImage, settings: FeatureSettings | None = None) -> FeatureIndex:
        pts, desc = _detect(reference, settings or FeatureSettings())
        if desc is None or len(pts) < 50:
            raise ValueError("reference scan has too few features to register against")
        return cls(pts, desc, (reference.shape[1], reference.shape[0]))


def _match(photo_desc: np.ndarray, index: FeatureIndex, ratio: float) -> list[tuple[int, int]]:
    """(photo i, reference j) pairs that pass the ratio test."""
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = []
    for m in matcher.knnMatch(photo_desc, index.descriptors, k=2):
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


def _fit(
    pts: Points, desc: np.ndarray | None, index: FeatureIndex, s: FeatureSettings, tol: float
) -> Homography:
    """RANSAC homography from matched points to the reference, or PhotoRejected."""
    pairs = _match(desc, index, s.ratio) if desc is not None else []
    if len(pairs) < s.min_inliers:
        raise PhotoRejected(*NOT_FOUND, detail=f"{len(pairs)} feature matches")
    src = pts[[i for i, _ in pairs]]
    dst = index.points[[j for _, j in pairs]]
    H, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, tol, maxIters=5000, confidence=0.999)
    inliers = int(mask.sum()) if mask is not None else 0
    if H is None or inliers < s.min_inliers or inliers < s.min_inlier_ratio * len(pairs):
        raise PhotoRejected(*NOT_FOUND, detail=f"{inliers} inliers of {len(pairs)} matches")
    return H


def _homography(photo: GrayImage, index: FeatureIndex, s: FeatureSettings) -> Homography:
    """Photo px -> reference px: a coarse fit at any rotation, then a fit of the photo warped
    onto the reference (same scale and orientation, so keypoint biases cancel)."""
    pts, desc = _detect(photo, s)
    f = min(1.0, s.work_side / max(photo.shape[:2]))
    H = _fit(pts, desc, index, s, s.ransac_px / f)
    warped = cv2.warpPerspective(
        photo, H, index.size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    pts2, desc2 = _detect(warped, s)
    try:
        f2 = min(1.0, s.work_side / max(index.size))
        return _fit(pts2, desc2, index, s, s.ransac_px / f2) @ H
    except PhotoRejected:
        return H


def locate_by_features(
    photo: GrayImage,
    template: Template,
    reference: GrayImage | FeatureIndex,
    canonical_width: int,
    settings: FeatureSettings | None = None,
) -> Page:
    """Warp `photo` onto `template`'s canonical page by matching it to the reference scan."""
    s = settings or FeatureSettings()
    index = reference if isinstance(reference, FeatureIndex) else FeatureIndex.build(reference, s)
    H_ref = _homography(photo, index, s)
    units = np.diag([template.page.width / index.size[0], template.page.height / index.size[1], 1])
    photo_to_units = units @ H_ref
    try:
        quad = cv2.perspectiveTransform(
            page_corners(template)[None], np.linalg.inv(photo_to_units)
        )[0]
    except np.linalg.LinAlgError:
        quad = np.full((4, 2), np.nan)
    why = check_quad(quad, photo.shape, s)
    if why:
        raise PhotoRejected(*NOT_FOUND, detail=why)
    return make_page(
        photo, template, photo_to_units, "features", LocateSettings(canonical_width=canonical_width)
    )


def reference_path(template: Template) -> Path:
    """The reference scan of a registered template, next to its YAML."""
    from sipantau.templates.registry import template_path

    if not template.locator.reference:
        raise ValueError(f"template {template.id} has no reference image")
    return template_path(template.id).parent / template.locator.reference


@lru_cache(maxsize=16)
def _cached_index(path: Path, mtime: float) -> FeatureIndex:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"cannot read reference scan {path}")
    return FeatureIndex.build(image)


def index_for(template: Template) -> FeatureIndex:
    """The template's FeatureIndex, built once per reference file (and again if it changes)."""
    path = reference_path(template)
    return _cached_index(path, path.stat().st_mtime)


def locate_features_for(photo: GrayImage, template: Template, settings: LocateSettings) -> Page:
    """`ocr/locate.py`'s entry: the registered reference, found next to the template file."""
    return locate_by_features(photo, template, index_for(template), settings.canonical_width)
