"""A corner-mark frame from three L marks (the fourth out of the photo, or lost to glare or a
finger) or two (the other two out of the photo): the missing corners are completed from the
marks' arms and the template's proportions; such a frame is then refined on the printed lines."""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate_align import Alignment, alignment, line_image, refine_ecc
from sipantau.ocr.locate_features import handwriting_mask
from sipantau.ocr.locate_marks import Mark, fits_frame, order_clockwise
from sipantau.ocr.types import GrayImage, Homography
from sipantau.templates.model import Template


def _outside(p: np.ndarray, size: tuple[float, float]) -> bool:
    h, w = size
    return not (0 <= p[0] < w and 0 <= p[1] < h)


Found = list[tuple[float, np.ndarray, np.ndarray]]  # area, quad, which corners are real marks


def _checked(marks: list[Mark], quad: np.ndarray, rel: np.ndarray, out: Found) -> None:
    """Append the quad (clockwise) when its marks and ghosts fit the frame one way round."""
    idx = tuple(range(4))
    order = order_clockwise(idx, quad)
    q, mk = quad[order], [marks[i] for i in order]
    if any(fits_frame(mk, q, np.roll(rel, s, axis=0)) for s in (0, 1)):
        real = np.array([m.fit > 0 for m in mk])
        out.append((float(cv2.contourArea(q.astype(np.float32))), q, real))


def _ghost(at: np.ndarray, towards: list[np.ndarray], arm_len: float) -> Mark:
    arms = np.array([(t - at) / (np.linalg.norm(t - at) + 1e-9) for t in towards])
    return Mark(at, arms, arm_len, 0.0)


def _other_arm(m: Mark, towards: np.ndarray) -> np.ndarray:
    """The arm of `m` that does not run towards the point `towards`."""
    e = (towards - m.corner) / (np.linalg.norm(towards - m.corner) + 1e-9)
    return m.arms[int(np.argmin(np.abs(m.arms @ e)))]


def _meet(p: np.ndarray, u: np.ndarray, q: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Where the lines p + t u and q + s v cross (None when about parallel)."""
    A = np.array([u, -v]).T
    if abs(np.linalg.det(A)) < 0.05:
        return None
    t = np.linalg.solve(A, q - p)[0]
    return p + t * u


def three_marks(
    marks: list[Mark], pts: np.ndarray, rel: np.ndarray, size: tuple[float, float]
) -> Found:
    """Three marks around a corner b; the fourth where the free arms of a and c meet (lines stay
    lines in perspective), else a + c - b."""
    out: Found = []
    mutual = _mutual(marks, pts)
    for j in range(len(marks)):  # b: the corner mark, pointing at a and c, and they at it
        for i, k in itertools.combinations(np.flatnonzero(mutual[j]), 2):
            _three(marks, pts, rel, int(i), j, int(k), out)
    return out


def _three(
    marks: list[Mark], pts: np.ndarray, rel: np.ndarray, i: int, j: int, k: int, out: Found
) -> None:
    a, b, c = pts[i], pts[j], pts[k]
    d = _meet(a, _other_arm(marks[i], b), c, _other_arm(marks[k], b))
    if d is None:
        d = a + c - b
    ghost = _ghost(d, [a, c], marks[j].arm_len)
    _checked([marks[i], marks[j], marks[k], ghost], np.array([a, b, c, d]), rel, out)


def _mutual(marks: list[Mark], pts: np.ndarray) -> np.ndarray:
    from sipantau.ocr.locate_marks import pointing

    P = pointing(marks, pts)
    return P & P.T


def two_marks(
    marks: list[Mark], pts: np.ndarray, rel: np.ndarray, size: tuple[float, float]
) -> Found:
    """Two marks of one edge; their other arms run along the sides, as long as the template's
    proportions make them (either edge: the page's width or its height); at least one of the
    two corners so found lies outside the photo."""
    w_over_h = rel[1, 0] / rel[0, 0]  # (a/h) / (a/w): the frame's width / height
    out: Found = []
    mutual = _mutual(marks, pts)
    for i, j in itertools.combinations(range(len(marks)), 2):
        if not mutual[i, j]:
            continue  # the marks of one edge point at each other
        a, b = pts[i], pts[j]
        edge = b - a
        length = float(np.linalg.norm(edge))
        if length < 1e-6:
            continue
        side = []
        for m in (marks[i], marks[j]):
            along = np.abs(m.arms @ (edge / length))
            side.append(m.arms[int(np.argmin(along))])
        if side[0] @ side[1] < 0.9:
            continue  # both other arms run the same way, along the page's sides
        for ratio in (1 / w_over_h, w_over_h):
            d, c = a + side[0] * length * ratio, b + side[1] * length * ratio
            if _outside(c, size) or _outside(d, size):
                ghosts = [_ghost(c, [b, d], marks[j].arm_len), _ghost(d, [c, a], marks[i].arm_len)]
                _checked([marks[i], marks[j], *ghosts], np.array([a, b, c, d]), rel, out)
    return out


def partial_frames(
    marks: list[Mark], pts: np.ndarray, rel: np.ndarray, size: tuple[float, float]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Frames from three marks, else two, largest first (reduced-copy pixels), each with which
    of its corners are marks found (the others completed)."""
    found = three_marks(marks, pts, rel, size) or two_marks(marks, pts, rel, size)
    found.sort(key=lambda q: -q[0])
    return [(q, real) for _, q, real in found[:2]]


def _ideal_mark(corner: int, k: float, arm: float, pad: int) -> np.ndarray:
    """The printed L for page corner `corner` (clockwise from top-left), dark on paper, with
    `pad` px of paper around it; its outer corner at (pad, pad) before the flips."""
    a, t = int(round(arm * k)), max(2, int(round(0.38 * arm * k)))
    img = np.full((a + 2 * pad, a + 2 * pad), 255, np.uint8)
    img[pad : pad + t, pad : pad + a] = 0
    img[pad : pad + a, pad : pad + t] = 0
    if corner in (1, 2):
        img = img[:, ::-1]
    if corner in (2, 3):
        img = img[::-1]
    return np.ascontiguousarray(img)


ECC_PX_PER_UNIT = 3.0  # the blank form's print is aligned at this many px per unit (mm)
_BLANKS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _blank_lines(template: Template) -> tuple[np.ndarray, np.ndarray]:
    """The blank form's printed lines at ECC scale, and where they count (not the boxes, where
    handwriting goes; not the QR code, which differs per TPS), cached per template."""
    if template.id not in _BLANKS:
        from sipantau.templates.render import render

        k = ECC_PX_PER_UNIT
        img = cv2.cvtColor(render(template, dpi=k * 25.4).image, cv2.COLOR_BGR2GRAY)
        size = (int(round(template.page.width * k)), int(round(template.page.height * k)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        boxes = [[v * k for v in b] for f in template.fields for b in f.boxes]
        if template.qr:
            boxes.append([v * k for v in template.qr])
        mask = handwriting_mask(size, boxes, 0.4)
        _BLANKS[template.id] = (line_image(img), mask)
    return _BLANKS[template.id]


MIN_NCC, MIN_PEAK = 0.2, 0.3  # as for registered forms (FeatureSettings)
# (scale, ECC iterations): 10 at a quarter of the size, 3 at half and 2 at full line up the
# print as 15 at half and 5 at full did (line NCC within 0.01 on 42 cut-off and partial
# frames), in three quarters of the time
ECC_PYRAMID = ((0.25, 10), (0.5, 3), (1.0, 2))


def _onto_print(
    photo: GrayImage, template: Template, H: Homography
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The photo laid on the blank form's lines by `H` at ECC scale: (the form's lines, the
    photo's lines, where they count, photo -> ECC pixels)."""
    lines, mask = _blank_lines(template)
    k = ECC_PX_PER_UNIT
    S = np.diag([k, k, 1.0]) @ H
    size = lines.shape[::-1]
    warped = cv2.warpPerspective(photo, S, size, flags=cv2.INTER_AREA, borderValue=255)
    inside = cv2.warpPerspective(np.full(photo.shape, 255, np.uint8), S, size, borderValue=0)
    valid = cv2.bitwise_and(cv2.erode(inside, np.ones((7, 7), np.uint8)), mask)
    return lines, line_image(warped), valid, S


def _level(
    laid: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    f: float,
    iterations: int,
    W: Homography | None,
) -> tuple[Homography | None, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One pyramid level: ECC at `f` of the ECC scale from `W` (full-scale pixels); the found
    warp in full-scale pixels (None when it does not converge) and the level's images."""
    lines, wl, valid, _ = laid
    F = np.diag([f, f, 1.0])
    ref, mov, where = lines, wl, valid
    if f < 1.0:
        ref, mov = (
            cv2.resize(x, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) for x in (ref, mov)
        )
        where = cv2.resize(valid, ref.shape[::-1], interpolation=cv2.INTER_NEAREST)
    start = None if W is None else F @ W @ np.linalg.inv(F)
    found = refine_ecc(ref, mov, where, iterations=iterations, start=start)
    out = None if found is None else np.linalg.inv(F) @ found @ F
    return out, (ref, mov, where)


def refine_on_print(
    photo: GrayImage, template: Template, H: Homography
) -> tuple[Homography, Alignment] | None:
    """A frame completed from fewer than four marks is approximate: refine it by ECC on the
    blank form's printed lines; None when the lines do not measurably align."""
    laid = _onto_print(photo, template, H)
    W: Homography | None = None
    for f, iterations in ECC_PYRAMID:  # coarse to fine: most iterations on few pixels
        found, _ = _level(laid, f, iterations, W)
        if found is None and f == 1.0:
            return None
        W = found if found is not None else W
    if W is None:
        return None
    lines, _, valid, S = laid
    H2 = _to_units(W, S)
    size = lines.shape[::-1]
    warped = cv2.warpPerspective(
        photo, np.linalg.inv(W) @ S, size, flags=cv2.INTER_AREA, borderValue=255
    )
    a = alignment(lines, line_image(warped), valid)
    if a.correlation < MIN_NCC or a.peak < MIN_PEAK:
        return None
    return H2, a


def _to_units(W: Homography, S: Homography) -> Homography:
    """Photo -> template units, from the ECC warp `W` of the photo laid by `S` (ECC pixels)."""
    k = ECC_PX_PER_UNIT
    return np.linalg.inv(np.diag([k, k, 1.0])) @ np.linalg.inv(W) @ S


# A completed frame can be far off: its turns are laid on the print from an eighth of the ECC
# scale (10 iterations), then a quarter (5), where the line NCC is compared. It needs 0.4, and
# 0.2 over the other turn. Set on 64 cut-off photos of our own generator: the right turn scored
# 0.73-0.87 (0.46-0.87 from a quarter of the scale alone), the other 0.31 at most. The
# evaluation generator's 64: right 0.36-0.86 (60 over 0.5), other 0.33 at most.
TURN_LEVELS = ((0.125, 10), (0.25, 5))
PRINT_MIN_NCC, PRINT_MARGIN = 0.4, 0.2
ASPECT_OFF = 1.5  # a turn that would stretch the frame's proportions this much is no turn


def _proportionate(quad: np.ndarray, template: Template, r: int) -> bool:
    """Whether pairing `quad` rolled by `r` with the template's corners keeps its proportions
    (a completed frame's corners follow them): of four turns, two do, unless the page is square."""
    units = np.array(template.locator.corners, np.float64)
    q = np.roll(quad, -r, axis=0)

    def ratio(p: np.ndarray) -> float:
        e = [float(np.linalg.norm(p[(i + 1) % 4] - p[i])) for i in range(4)]
        return (e[0] + e[2]) / max(e[1] + e[3], 1e-9)

    off = ratio(q) / max(ratio(units), 1e-9)
    return 1 / ASPECT_OFF < off < ASPECT_OFF


def by_print(
    photo: GrayImage, template: Template, quad: np.ndarray, Hs: list[Homography]
) -> Homography | None:
    """The turn of a completed frame whose printed lines line up with the blank form's
    (handwriting masked), by a clear margin over the other turn, with its homography from
    coarse ECC levels (`TURN_LEVELS`): enough to tell a page cut off, to be refined to read it."""
    tried: list[tuple[float, Homography]] = []
    for r, H in enumerate(Hs):
        if not np.isfinite(H).all() or not _proportionate(quad, template, r):
            continue
        laid = _onto_print(photo, template, H)
        W: Homography | None = None
        for f, iterations in TURN_LEVELS:
            found, (ref, mov, where) = _level(laid, f, iterations, W)
            W = found if found is not None else W
        if W is None:
            continue
        F = np.diag([f, f, 1.0])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        moved = cv2.warpPerspective(mov, F @ W @ np.linalg.inv(F), ref.shape[::-1], flags=flags)
        tried.append((alignment(ref, moved, where).correlation, _to_units(W, laid[3])))
    tried.sort(key=lambda t: -t[0])
    if not tried or tried[0][0] < PRINT_MIN_NCC:
        return None
    if len(tried) > 1 and tried[0][0] - tried[1][0] < PRINT_MARGIN:
        return None
    return tried[0][1]


PHOTO_SIDES = {"top": "atas", "bottom": "bawah", "left": "kiri", "right": "kanan"}


CUT_MIN = 0.15  # of the frame's longest edge: a completed frame's corners are this uncertain
BOXES_OUT = 0.05  # of that edge: number boxes this far out of the photo are out, whatever ECC says


def _edge(quad: np.ndarray) -> float:
    return max(float(np.linalg.norm(quad[i] - quad[i - 1])) for i in range(len(quad)))


def cut_off_rejection(
    photo: GrayImage, quad: np.ndarray, detail: str, pts: np.ndarray | None = None
) -> PhotoRejected:
    """The page runs out of the photo and cannot be read: say on which side of the photo. `pts`
    (default: the frame's corners) must be out of it by more than the frame's uncertainty, else
    the form is not found instead."""
    from sipantau.ocr.locate import NOT_FOUND

    h, w = photo.shape[:2]
    pts, least = (quad, CUT_MIN * _edge(quad)) if pts is None else (pts, BOXES_OUT * _edge(quad))
    beyond = {
        "left": -min(pts[:, 0].min(), 0),
        "right": max(pts[:, 0].max() - w, 0),
        "top": -min(pts[:, 1].min(), 0),
        "bottom": max(pts[:, 1].max() - h, 0),
    }
    side = max(beyond, key=lambda k: beyond[k])
    if beyond[side] <= least:
        return PhotoRejected(*NOT_FOUND, detail=f"marks missing inside the photo: {detail}")
    return PhotoRejected(
        "cut_off",
        f"formulir terpotong di sisi {PHOTO_SIDES[side]} foto; foto ulang dengan seluruh "
        "halaman di dalam bingkai",
        detail=f"photo {side}: {detail}",
    )


def boxes_in_photo(template: Template, H: Homography) -> np.ndarray:
    """Every number box's corners, in photo pixels, by the (approximate) page homography."""
    pts = [
        (x + dx, y + dy)
        for f in template.fields
        for x, y, w, h in f.boxes
        for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))
    ]
    return cv2.perspectiveTransform(np.array([pts], np.float64), np.linalg.inv(H))[0]


def all_inside(pts: np.ndarray, shape: tuple[int, ...], margin: float = 2.0) -> bool:
    """Whether every point lies inside an image of `shape`, `margin` px from its edges."""
    h, w = shape[:2]
    x, y = pts[:, 0], pts[:, 1]
    return bool(((x >= margin) & (x < w - margin) & (y >= margin) & (y < h - margin)).all())


def find_ghosts(
    photo: GrayImage, template: Template, H: Homography, quad: np.ndarray, real: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Look for each completed corner's mark where the frame (turned) puts it, in a rectified
    crop, by its printed shape (normalised correlation >= 0.6); a mark lost to the background
    or a blur is found this way, one outside the photo is not."""
    k, a = 4.0, template.locator.mark_size
    corners = np.array(template.locator.corners, np.float64)
    quad, real = quad.copy(), real.copy()
    in_units = cv2.perspectiveTransform(quad[None].astype(np.float64), H)[0]
    for i in np.flatnonzero(~real):
        c = int(np.argmin(np.linalg.norm(corners - in_units[i], axis=1)))
        cx, cy = corners[c]
        r = 6 * a  # the completed corner can be off by a few arm lengths
        rect = (cx - r, cy - r, 2 * r, 2 * r)
        M = np.array([[k, 0, -rect[0] * k], [0, k, -rect[1] * k], [0, 0, 1]]) @ H
        side = int(round(2 * r * k))
        crop = cv2.warpPerspective(photo, M, (side, side), flags=cv2.INTER_LINEAR, borderValue=255)
        pad = 6
        ideal = _ideal_mark(c, k, a, pad)
        score = cv2.matchTemplate(crop, ideal, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(score)
        if best < 0.6:
            continue
        n = ideal.shape[0] - 1
        box = np.array([[[bx, by], [bx + n, by], [bx + n, by + n], [bx, by + n]]], np.float64)
        if not all_inside(cv2.perspectiveTransform(box, np.linalg.inv(M))[0], photo.shape):
            continue  # a 'mark' at the photo's edge is the edge
        ox, oy = (pad if c in (0, 3) else n - pad), (pad if c in (0, 1) else n - pad)
        p = np.array([[[bx + ox, by + oy]]], np.float64)
        quad[i] = cv2.perspectiveTransform(p, np.linalg.inv(M))[0, 0]
        real[i] = True
    return quad, real
