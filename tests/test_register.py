"""Registering a form we do not control (kawalc1's Depok C1-KWK scan, MIT, read from
../shared/reference/ where it lies) and locating it."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sipantau.ocr.errors import PhotoRejected, TemplateError
from sipantau.ocr.locate_features import (
    FeatureIndex,
    FeatureSettings,
    check_quad,
    locate_by_features,
)
from sipantau.templates import registry
from sipantau.templates.register import add_template, box_map_from_kawalc1
from sipantau.templates.registry import load_template_file
from tests.conftest import shared_path

# Scan and box map: kawalc1/kawalc1 (MIT licence, ../shared/reference/LICENSE-kawalc1.txt).
DEPOK_ID = "c1-kwk-2015-depok"


@pytest.fixture(scope="module")
def scan() -> Path:
    return shared_path("reference", "c1-kwk-2015-depok-lampiran.jpg")


@pytest.fixture(scope="module")
def kawalc1_boxes(scan) -> Path:
    return scan.with_name("c1-kwk-2015-depok-lampiran.boxes.json")


def shoot(
    page: np.ndarray,
    angle: float,
    *,
    size=(2000, 1500),
    scale=0.8,
    jitter=0.04,
    blur=1.0,
    quality=80,
    seed=0,
    bg=90,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic phone photo: perspective, any in-plane rotation, blur, JPEG; and its H."""
    if page.ndim == 3:
        page = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    rng = np.random.default_rng(seed)
    h, w = page.shape
    k = scale * min(size) / max(w, h)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    q = (src - [w / 2, h / 2] + rng.uniform(-jitter, jitter, (4, 2)) * max(w, h)) * k
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = (q @ rot.T + [size[0] / 2, size[1] / 2]).astype(np.float32)
    H = cv2.getPerspectiveTransform(src, dst)
    img = cv2.warpPerspective(page, H, size, borderValue=bg)
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE), H


@pytest.fixture(scope="module")
def reference(scan) -> np.ndarray:
    return cv2.imread(str(scan), cv2.IMREAD_GRAYSCALE)


@pytest.fixture(scope="module")
def depok(tmp_path_factory, reference, scan, kawalc1_boxes):
    """kawalc1's box map converted to ours, registered with the scan into a temp folder."""
    d = tmp_path_factory.mktemp("templates")
    size = (reference.shape[1], reference.shape[0])
    box_map = box_map_from_kawalc1(json.loads(kawalc1_boxes.read_text()), DEPOK_ID, size)
    (d / "depok.boxes.json").write_text(json.dumps(box_map))
    return add_template(DEPOK_ID, scan, d / "depok.boxes.json", d)


def _boxes(template) -> list[list[float]]:
    return [b for f in template.fields for b in f.boxes]


@pytest.mark.realdata
def test_registered_template_round_trips(depok):
    t = load_template_file(depok)
    assert (depok.parent / t.locator.reference).is_file()
    assert t.page.unit == "px" and (t.page.width, t.page.height) == (981, 1398)
    assert t.locator.kind == "features"
    assert [f.name for f in t.fields] == ["dimas", "idris", "jumlah", "tidak_sah"]
    assert t.field("dimas").boxes[0] == [754, 219, 47, 45]
    assert [c.expr for c in t.checks] == ["dimas + idris == jumlah"]
    assert "kawalc1" in t.credit


@pytest.mark.realdata
def test_box_map_errors_are_named(tmp_path, scan):
    bad = {"template": "x", "image": {"width": 10, "height": 10}, "fields": []}
    (tmp_path / "b.json").write_text(json.dumps(bad))
    with pytest.raises(TemplateError, match="ukuran gambar"):
        add_template("x", scan, tmp_path / "b.json", tmp_path)
    bad = {
        "image": {"width": 981, "height": 1398},
        "fields": [{"name": "Bad Name", "boxes": [[1, 1, 5, 5]]}],
    }
    (tmp_path / "b.json").write_text(json.dumps(bad))
    with pytest.raises(TemplateError, match="fields.0.name"):
        add_template("x", scan, tmp_path / "b.json", tmp_path)
    assert not list(tmp_path.glob("*.yaml"))


def _box_error(template, page, H_true) -> float:
    """Largest distance (canonical px) between where a box corner is and where it should be."""
    worst = 0.0
    for f in template.fields:
        for x, y, w, h in f.boxes:
            pts = np.float64([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
            in_photo = cv2.perspectiveTransform(pts[None], H_true)
            back = cv2.perspectiveTransform(in_photo, page.homography)[0]
            worst = max(worst, float(np.linalg.norm(back - pts * page.scale, axis=1).max()))
    return worst


@pytest.mark.realdata
@pytest.mark.parametrize("angle", [180.0, 7.0, 95.0])
def test_depok_photo_maps_boxes_back(depok, reference, angle):
    t = load_template_file(depok)
    index = FeatureIndex.build(reference, boxes=_boxes(t))
    photo, H_true = shoot(reference, angle, seed=int(angle))
    page = locate_by_features(photo, t, index, canonical_width=1240)
    assert page.image.shape == (1767, 1240) and page.method == "features"
    assert _box_error(t, page, H_true) < 3.0


@pytest.mark.realdata
def test_locate_through_the_registry(depok, reference, monkeypatch):
    from sipantau.ocr.locate import locate

    monkeypatch.setenv("SIPANTAU_TEMPLATES", str(depok.parent))
    registry.clear_cache()
    try:
        t = registry.get_template(DEPOK_ID)
        photo, H_true = shoot(reference, 180.0, blur=1.5, quality=70, seed=3)
        page = locate(photo, t)
        assert _box_error(t, page, H_true) < 3.0
    finally:
        registry.clear_cache()


@pytest.mark.realdata
def test_a_low_resolution_reference_works_as_well(depok, reference):
    """The reference scanned at half the resolution (the hand-filled scan as it is): the photo's
    boxes still land within 3 px of the canonical page."""
    t = load_template_file(depok)
    small = cv2.resize(reference, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, reference.shape[::-1], interpolation=cv2.INTER_LINEAR)
    index = FeatureIndex.build(big, boxes=_boxes(t))
    photo, H_true = shoot(reference, 12.0, blur=1.2, seed=5)
    page = locate_by_features(photo, t, index, canonical_width=1240)
    assert _box_error(t, page, H_true) < 3.0


@pytest.mark.realdata
def test_another_form_is_rejected(depok, blanko_page, reference):
    t = load_template_file(depok)
    photo, _ = shoot(blanko_page, 0.0)
    with pytest.raises(PhotoRejected) as err:
        locate_by_features(photo, t, reference, canonical_width=981)
    assert err.value.code == "form_not_found"
    assert "lines ncc" in (err.value.detail or "") or "inliers" in (err.value.detail or "")


def test_check_quad_refuses_implausible_pages():
    s = FeatureSettings()
    ok = np.float64([[100, 100], [900, 120], [880, 1300], [90, 1280]])
    assert check_quad(ok, (1500, 1000), s) is None
    assert check_quad(ok[::-1], (1500, 1000), s) == "page quad is mirrored"
    assert check_quad(ok[[0, 2, 1, 3]], (1500, 1000), s) == "page quad is not convex"
    assert check_quad(ok / 10, (1500, 1000), s) == "page too small in the photo"


@pytest.mark.realdata
def test_cli_adds_a_kawalc1_box_map_directly(tmp_path, scan, kawalc1_boxes):
    from sipantau.cli import main

    assert (
        main(
            [
                "templates",
                "add",
                "depok-cli",
                "--reference",
                str(scan),
                "--boxes",
                str(kawalc1_boxes),
                "--dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    t = load_template_file(tmp_path / "depok-cli.yaml")
    assert [f.name for f in t.fields] == ["dimas", "idris", "jumlah", "tidak_sah"]
    assert [c.expr for c in t.checks] == ["dimas + idris == jumlah"]
    assert (tmp_path / "depok-cli.jpg").read_bytes() == scan.read_bytes()
