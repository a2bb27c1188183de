from __future__ import annotations

import numpy as np
import pytest

from sipantau.ocr.boxes import cut_boxes, to_px
from sipantau.ocr.decode import decode
from sipantau.ocr.errors import PhotoRejected
from sipantau.ocr.locate import locate
from sipantau.ocr.quality import assess, median_u8, sharpness
from sipantau.ocr.settings import QualitySettings
from tests.conftest import photograph


def _box_darkness(page, template) -> float:
    """Mean darkness on the printed outlines of every digit box (high when aligned)."""
    vals = []
    for f in template.fields:
        for rect in f.boxes:
            x, y, w, h = to_px(rect, page.scale)
            vals += [
                page.image[y : y + h, x : x + 2].mean(),
                page.image[y : y + 2, x : x + w].mean(),
            ]
    return 255 - float(np.mean(vals))


@pytest.mark.parametrize("rotation", [0, 1, 2, 3])
def test_blanko_found_in_any_rotation(blanko, blanko_page, rotation):
    page = locate(decode(photograph(blanko_page, rotation)).image, blanko)
    assert page.method.startswith("aruco")
    assert page.image.shape == (1754, 1240)
    assert _box_darkness(page, blanko) > 120  # box lines land where the template says


def test_field_refinement_recovers_a_shift(blanko, blanko_page):
    page = locate(decode(photograph(blanko_page)).image, blanko)
    crops = cut_boxes(page, blanko)
    assert all(abs(dx) <= 2 and abs(dy) <= 2 for dx, dy in (c.shift for c in crops.values()))
    shifted = type(page)(
        np.roll(page.image, (4, -3), axis=(0, 1)),
        page.scale,
        page.homography,
        page.method,
        page.photo_quad,
    )
    moved = cut_boxes(shifted, blanko)
    first = next(iter(crops))
    assert moved[first].shift == (crops[first].shift[0] - 3, crops[first].shift[1] + 4)


def test_field_refinement_follows_a_fold_beyond_the_page_search(blanko, blanko_page):
    """Where the paper folds, part of the page lies 15-20 px off the homography: each field
    there is snapped by its own shift (more than the 8 px a right warp needs)."""
    page = locate(decode(photograph(blanko_page)).image, blanko)
    before = cut_boxes(page, blanko)
    fold = page.image.shape[0] // 2
    image = page.image.copy()
    image[fold:] = np.roll(page.image, (15, -18), axis=(0, 1))[fold:]
    folded = cut_boxes(
        type(page)(image, page.scale, page.homography, page.method, page.photo_quad), blanko
    )
    below = [n for n, c in before.items() if min(b[1] for b in c.boxes) > fold + 30]
    above = [n for n, c in before.items() if max(b[1] + b[3] for b in c.boxes) < fold - 30]
    assert below and above
    for name in below:
        dx, dy = before[name].shift
        assert folded[name].shift == (dx - 18, dy + 15), name
    for name in above:
        assert folded[name].shift == before[name].shift, name


def test_no_form_in_photo(blanko):
    noise = (np.random.default_rng(0).random((1500, 2000)) * 255).astype(np.uint8)
    with pytest.raises(PhotoRejected) as exc:
        locate(noise, blanko)
    assert exc.value.code == "form_not_found"


def test_sharp_photo_passes_and_blurred_is_rejected(blanko, blanko_page):
    results = {}
    for blur in (0.0, 6.0):
        photo = decode(photograph(blanko_page, blur=blur)).image
        page = locate(photo, blanko)
        crops = cut_boxes(page, blanko)
        results[blur] = (sharpness(crops), assess(photo, page, blanko, crops, QualitySettings()))
    assert results[0.0][1] == []
    assert results[6.0][0] < results[0.0][0] / 2
    assert [p.code for p in results[6.0][1]] == ["blurry"]
    assert "buram" in results[6.0][1][0].message


def test_cut_off_page_is_rejected(blanko, blanko_page):
    photo = decode(photograph(blanko_page, shift=(0, 700))).image  # bottom runs out of frame
    try:
        page = locate(photo, blanko)
    except PhotoRejected as exc:  # too few markers left is an acceptable outcome too
        assert exc.code == "form_not_found"
        return
    problems = assess(photo, page, blanko, cut_boxes(page, blanko), QualitySettings())
    assert "cut_off" in [p.code for p in problems]


def test_glare_over_the_boxes_is_rejected(blanko, blanko_page):
    import cv2

    from sipantau.ocr.locate import photo_points

    data = photograph(blanko_page)
    photo = decode(data)
    page = locate(photo.image, blanko)
    centre = photo_points(page, np.array([[75.0, 120.0]]))[0] * photo.reduction
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    cv2.circle(img, (int(centre[0]), int(centre[1])), 260, (255, 255, 255), -1)
    shot = decode(cv2.imencode(".jpg", img)[1].tobytes()).image
    page = locate(shot, blanko)
    problems = assess(shot, page, blanko, cut_boxes(page, blanko), QualitySettings())
    glare = [p for p in problems if p.code == "glare"]
    assert glare and "gub_paslon_2" in glare[0].detail and "silau" in glare[0].message


@pytest.mark.parametrize("shape", [(1, 2), (7, 5), (6, 4), (1400, 1240), (1401, 1239)])
def test_the_histogram_median_is_numpys(shape):
    rng = np.random.default_rng(sum(shape))
    for img in (
        rng.integers(0, 256, shape, dtype=np.uint8),
        rng.integers(40, 60, shape, dtype=np.uint8),  # values near the too-dark line
        np.full(shape, 49, np.uint8),
    ):
        assert median_u8(img) == float(np.median(img))
        assert median_u8(img[::2, 1:]) == float(np.median(img[::2, 1:]))  # a strided view


def test_a_dark_photo_is_rejected_as_too_dark(blanko, blanko_page):
    import cv2

    data = photograph(blanko_page)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    dark = (img.astype(np.float32) * 0.18).astype(np.uint8)
    shot = decode(cv2.imencode(".jpg", dark)[1].tobytes()).image
    page = locate(shot, blanko)
    problems = assess(shot, page, blanko, cut_boxes(page, blanko), QualitySettings())
    assert "too_dark" in [p.code for p in problems], [p.code for p in problems]


def test_page_too_small_in_the_frame_is_rejected(blanko, blanko_page):
    import cv2

    big = cv2.imdecode(np.frombuffer(photograph(blanko_page), np.uint8), cv2.IMREAD_COLOR)
    small = cv2.resize(big, None, fx=0.22, fy=0.22, interpolation=cv2.INTER_AREA)
    photo = decode(cv2.imencode(".png", small)[1].tobytes()).image
    try:
        page = locate(photo, blanko)
    except PhotoRejected as exc:  # markers too small to find is the same advice
        assert exc.code == "form_not_found"
        return
    problems = assess(photo, page, blanko, cut_boxes(page, blanko), QualitySettings())
    assert [p.code for p in problems][:1] == ["too_small"]
    assert "dekatkan" in problems[0].message


@pytest.mark.parametrize("side, word", [("top", "atas"), ("left", "kiri")])
def test_blanko_cut_through_the_middle_is_cut_off_on_that_side(blanko, blanko_page, side, word):
    """Half the page out of the photo (two of the four markers left): `cut_off` and the side,
    not 'form not found'."""
    import cv2

    from sipantau.ocr.digits import CnnDigitReader
    from sipantau.ocr.pipeline import Reader

    img = cv2.imdecode(np.frombuffer(photograph(blanko_page), np.uint8), cv2.IMREAD_COLOR)
    cx, cy = 1975, 1507  # the page's centre in photograph()'s frame
    cut = img[cy:] if side == "top" else img[:, cx:]
    data = cv2.imencode(".jpg", cut, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    r = Reader({blanko.id: blanko}, CnnDigitReader()).read(data, "cut.jpg", blanko.id)
    assert r.status == "rejected"
    assert r.reasons[0].code == "cut_off", r.reasons
    assert word in r.reasons[0].message
