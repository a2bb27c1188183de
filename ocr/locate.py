"""Locate stage: find the form in the photo and warp it onto the template's canonical page."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.reduce import reduced
from sipantau.ocr.settings import LocateSettings
from sipantau.ocr.types import GrayImage, Homography, Page, Quad
from sipantau.templates.model import Template

QUICK_WINDOW = 13  # px, the one adaptive threshold window of a quick look for ArUco markers
NOT_FOUND = (
    "form_not_found",
    "formulir tidak ditemukan di foto; foto ulang dengan keempat sudut terlihat",
)


def canonical_scale(template: Template, settings: LocateSettings) -> float:
    """Canonical pixels per template unit."""
    return settings.canonical_width / template.page.width


def canonical_size(template: Template, settings: LocateSettings) -> tuple[int, int]:
    s = canonical_scale(template, settings)
    return settings.canonical_width, int(round(template.page.height * s))


def page_corners(template: Template) -> np.ndarray:
    w, h = template.page.width, template.page.height
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)


def _warp(photo: GrayImage, H: Homography, size: tuple[int, int]) -> GrayImage:
    return cv2.warpPerspective(
        photo, H, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )


def make_page(
    photo: GrayImage,
    template: Template,
    photo_to_units: Homography,
    method: str,
    settings: LocateSettings,
    identity: str | None = None,
) -> Page:
    """Build the Page from a homography that maps photo pixels to template units."""
    s = canonical_scale(template, settings)
    H = np.diag([s, s, 1.0]) @ photo_to_units
    quad = cv2.perspectiveTransform(page_corners(template)[None], np.linalg.inv(photo_to_units))[0]
    image = _warp(photo, H, canonical_size(template, settings))
    return Page(image, s, H, method, quad.astype(np.float32), identity)


def on_larger_photo(
    page: Page, photo: GrayImage, factor: float, template: Template, settings: LocateSettings
) -> Page:
    """The same page warped from a `factor` times larger decode of the same photo."""
    H = page.homography @ np.diag([1 / factor, 1 / factor, 1.0])
    image = _warp(photo, H, canonical_size(template, settings))
    quad = (page.photo_quad * factor).astype(np.float32)
    return Page(image, page.scale, H, page.method, quad, page.identity, page.boxes)


# --- ArUco markers (the blanko) ---------------------------------------------------------------


def _marker_corners_units(template: Template) -> dict[int, np.ndarray]:
    """Each marker id's four corners (TL, TR, BR, BL) in template units."""
    loc = template.locator
    side = loc.mark_size
    out = {}
    for i, (cx, cy) in enumerate(loc.corners):
        x = cx if i in (0, 3) else cx - side
        y = cy if i in (0, 1) else cy - side
        out[loc.marker_ids[i]] = np.array(
            [[x, y], [x + side, y], [x + side, y + side], [x, y + side]], dtype=np.float64
        )
    return out


@lru_cache(maxsize=8)
def _aruco_detector(dict_name: str, quick: bool = False) -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    if quick:  # one adaptive threshold window, not three: 5 ms, not 12, on a 1000 px copy
        params.adaptiveThreshWinSizeMin = params.adaptiveThreshWinSizeMax = QUICK_WINDOW
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dict_name))
    return cv2.aruco.ArucoDetector(dictionary, params)


def _any_marker(photo: GrayImage, template: Template) -> bool:
    """Whether a quick look at the reduced copy shows one of the template's markers."""
    small, _ = reduced(photo, 1000)
    _, ids, _ = _aruco_detector(template.locator.aruco_dict, quick=True).detectMarkers(small)
    return ids is not None and not set(ids.ravel().tolist()).isdisjoint(template.locator.marker_ids)


def _detect_at(photo: GrayImage, template: Template, long_side: int) -> dict[int, np.ndarray]:
    detector = _aruco_detector(template.locator.aruco_dict)
    small, f = reduced(photo, long_side)
    corners, ids, _ = detector.detectMarkers(small)
    found: dict[int, np.ndarray] = {}
    if ids is None:
        return found
    wanted = set(template.locator.marker_ids)
    for c, i in zip(corners, ids.ravel(), strict=True):
        if int(i) in wanted and int(i) not in found:
            found[int(i)] = c.reshape(4, 2).astype(np.float64) / f
    if f < 1 and found:  # refine on the full-size photo
        pts = np.concatenate(list(found.values())).astype(np.float32)
        win = max(2, int(round(1.5 / f)))
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.05)
        cv2.cornerSubPix(photo, pts, (win, win), (-1, -1), crit)
        for k, key in enumerate(found):
            found[key] = pts[4 * k : 4 * k + 4].astype(np.float64)
    return found


class MarkersNotSeen(PhotoRejected):
    """Not one ArUco marker on the reduced copy, and the full-size photo was not searched."""


def detect_markers(
    photo: GrayImage, template: Template, blind_search: bool = True
) -> dict[int, np.ndarray]:
    """Marker id -> its 4 corners in photo pixels: fast on a reduced copy, else full size
    (when the copy shows none, only with `blind_search`). Without `blind_search` a quick look
    comes first, and only says whether there are markers at all (its corners can differ by a
    few px): a photo of a form without them costs 5 ms, not 12."""
    if not blind_search and not _any_marker(photo, template):
        return {}
    found = _detect_at(photo, template, 1000)
    if len(found) < 4 and max(photo.shape) > 1000 and (found or blind_search):
        more = _detect_at(photo, template, max(photo.shape))
        if len(more) > len(found):
            found = more
    return found


def locate_aruco(photo: GrayImage, template: Template, settings: LocateSettings) -> Page:
    """Homography from every corner of every marker found (three markers are enough); with two,
    refined on the printed lines; else the page is cut off (the side named) or not found."""
    from sipantau.ocr.locate_partial import boxes_in_photo, cut_off_rejection, refine_on_print

    found = detect_markers(photo, template, settings.aruco_blind_search)
    if not found and not settings.aruco_blind_search:
        raise MarkersNotSeen(*NOT_FOUND, detail="no ArUco marker on the reduced copy")
    if len(found) < 2:  # one marker's corners are too close together to place the page
        raise PhotoRejected(*NOT_FOUND, detail=f"{len(found)} of 4 ArUco markers found")
    units = _marker_corners_units(template)
    src = np.concatenate([found[k] for k in found])
    dst = np.concatenate([units[k] for k in found])
    H, _ = cv2.findHomography(src, dst, 0)
    if H is None:
        raise PhotoRejected(*NOT_FOUND, detail="degenerate marker geometry")
    if len(found) >= 3:
        return make_page(photo, template, H, f"aruco{len(found)}", settings)
    quad = cv2.perspectiveTransform(page_corners(template)[None], np.linalg.inv(H))[0]
    out = cut_off_rejection(photo, quad, "2 of 4 ArUco markers", boxes_in_photo(template, H))
    if out.code == "cut_off":
        raise out  # number boxes well out of the photo: no refinement can read them
    refined = refine_on_print(photo, template, H)
    if refined is not None:  # the rest of the page may run out: the quality stage says
        return make_page(photo, template, refined[0], "aruco2+print", settings)
    raise cut_off_rejection(photo, quad, "2 of 4 ArUco markers; printed lines do not align")


Locator = Callable[[GrayImage, Template, LocateSettings], Page]
LOCATORS: dict[str, Locator] = {"aruco": locate_aruco}


def locate(photo: GrayImage, template: Template, settings: LocateSettings | None = None) -> Page:
    """Find `template`'s page in `photo` with the template's locator."""
    settings = settings or LocateSettings()
    kind = template.locator.kind
    if kind == "corner_marks":
        from sipantau.ocr.locate_marks import locate_corner_marks

        return locate_corner_marks(photo, template, settings)
    if kind == "features":
        from sipantau.ocr.locate_features import locate_features_for

        return locate_features_for(photo, template, settings)
    return LOCATORS[kind](photo, template, settings)


def photo_points(page: Page, pts_units: np.ndarray) -> Quad:
    """Template-unit points -> photo pixels (for quality gates and drawing)."""
    Hinv = np.linalg.inv(page.homography)
    s = page.scale
    return cv2.perspectiveTransform((pts_units * s)[None].astype(np.float64), Hinv)[0]
