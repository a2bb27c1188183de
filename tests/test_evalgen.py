"""The evaluation generator: truth that matches its photos, seeded, and only the split asked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sipantau.cli import main as cli_main
from sipantau.ocr.decode import decode
from sipantau.ocr.locate import locate
from sipantau.samples.evalgen.hand import random_writer, text_for, write_form
from sipantau.samples.evalgen.ink import skeleton, thin
from sipantau.samples.evalgen.make import make_one
from sipantau.samples.handwriting import calib_indices, split_indices
from sipantau.samples.make import make_samples
from sipantau.samples.values import make_values
from sipantau.templates.registry import get_template
from sipantau.templates.render import render

BLANKO = "sipantau-blanko"


@pytest.fixture(scope="module")
def careful(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("evalgen")
    truth = make_samples(BLANKO, 1, out, seed=4, level="careful", generator="eval")
    doc = json.loads(truth.read_text(encoding="utf-8"))
    return out, doc


def test_truth_has_the_shape_of_samples_make(careful: tuple[Path, dict]) -> None:
    out, doc = careful
    assert doc["generator"] == "eval" and doc["split"] == "holdout"
    (rec,) = doc["photos"]
    for key in ("photo", "template", "tps", "level", "consistent", "fields", "written"):
        assert key in rec
    assert (out / rec["photo"]).read_bytes()[:2] == b"\xff\xd8"
    template = get_template(BLANKO)
    assert set(rec["fields"]) == {f.name for f in template.fields}
    for f in template.fields:
        assert len(rec["written"][f.name]) == len(f.boxes)
    w, h = rec["camera"]["width"], rec["camera"]["height"]
    assert 7.9e6 <= w * h <= 16.1e6  # 8 to 16 MP


def test_page_corners_are_where_the_locator_finds_the_page(careful: tuple[Path, dict]) -> None:
    out, doc = careful
    (rec,) = doc["photos"]
    decoded = decode((out / rec["photo"]).read_bytes(), full=True)
    page = locate(decoded.image, get_template(BLANKO))
    truth = np.array(rec["page_corners"])
    diag = float(np.hypot(rec["camera"]["width"], rec["camera"]["height"]))
    err = np.linalg.norm(page.photo_quad - truth, axis=1).max()
    assert err < 0.01 * diag, (page.photo_quad, truth)


def test_the_reader_reads_what_the_truth_says(careful: tuple[Path, dict]) -> None:
    from sipantau.ocr.digits import READERS
    from sipantau.ocr.pipeline import Reader
    from sipantau.templates.registry import all_templates

    out, doc = careful
    (rec,) = doc["photos"]
    reading = Reader(all_templates(), READERS["cnn"]()).read(
        (out / rec["photo"]).read_bytes(), rec["photo"], rec["template"]
    )
    assert reading.status != "rejected", reading.reasons
    right = sum(reading.fields[n].value == v for n, v in rec["fields"].items())
    assert right >= len(rec["fields"]) - 2, right


def test_it_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    template = get_template("c-hasil-kwk-walikota")
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    a = make_one(template, 3, "1673011001-001", "hurried", 9, 0.05, tmp_path / "a", "holdout")
    b = make_one(template, 3, "1673011001-001", "hurried", 9, 0.05, tmp_path / "b", "holdout")
    assert a == b
    assert (tmp_path / "a" / a["photo"]).read_bytes() == (tmp_path / "b" / b["photo"]).read_bytes()
    c = make_one(template, 4, "1673011001-001", "hurried", 9, 0.05, tmp_path / "b", "holdout")
    assert c["written"] != a["written"]


@pytest.mark.parametrize("split", ["holdout", "calib"])
def test_digits_come_only_from_the_split_asked(split: str) -> None:
    template = get_template(BLANKO)
    train, hold = split_indices()
    allowed = set(hold.tolist()) if split == "holdout" else set(calib_indices().tolist())
    rendered = render(template, dpi=150)
    seen: set[int] = set()
    for seed in range(6):
        rng = np.random.default_rng(seed)
        values = make_values(template, rng)
        writer = random_writer(rng, split)  # type: ignore[arg-type]
        out = write_form(rendered, template, values.fields, rng, writer, np.array([150, 60, 30.0]))
        assert out.global_sources and len(out.global_sources) == len(out.sources)
        seen |= set(out.global_sources)
    assert seen <= allowed
    if split == "holdout":
        assert not seen & set(train.tolist())


def test_training_handwriting_is_refused() -> None:
    with pytest.raises(ValueError, match="never writes training"):
        random_writer(np.random.default_rng(0), "train")


def test_thinning_leaves_a_one_pixel_line() -> None:
    mask = np.zeros((30, 30), bool)
    mask[10:16, 3:27] = True  # a bar 6 px thick
    sk = thin(mask)
    assert sk.sum() > 10
    assert sk.sum(axis=0).max() == 1  # one pixel across the bar
    graph = skeleton(0, "holdout")
    assert len(graph.edges) >= len(graph.points) - 3
    assert abs(graph.points[:, 1].max() - graph.points[:, 1].min() - 1.0) < 0.3


def test_what_a_writer_puts_in_the_boxes() -> None:
    writer = random_writer(np.random.default_rng(1))
    assert text_for(45, 3, writer) in ("X45", "_45")
    assert text_for(0, 3, writer) in ("XXX", "XX0", "__0")
    with pytest.raises(ValueError):
        text_for(1000, 3, writer)


def test_cli_makes_calibration_photos(tmp_path: Path) -> None:
    args = ["samples", "make", "--generator", "eval", "--split", "calib", "--count", "1"]
    assert cli_main([*args, "--out", str(tmp_path), "--level", "normal"]) == 0
    doc = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert doc["split"] == "calib"
    assert set(doc["photos"][0]["sources_5k"]) <= set(calib_indices().tolist())
