from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import pytest

from sipantau.cli import main
from sipantau.templates.registry import get_template


def test_templates_list(capsys):
    assert main(["templates", "list"]) == 0
    out = capsys.readouterr().out
    assert "sipantau-blanko" in out


def test_render_png_with_box_map(tmp_path):
    out, boxes = tmp_path / "b.png", tmp_path / "b.json"
    assert (
        main(
            [
                "templates",
                "render",
                "sipantau-blanko",
                "--out",
                str(out),
                "--boxes",
                str(boxes),
                "--tps",
                "1673010001-007",
                "--dpi",
                "200",
            ]
        )
        == 0
    )
    img = cv2.imread(str(out))
    m = json.loads(boxes.read_text())
    assert set(m) == {"template", "image", "fields", "checks"}
    assert m["template"] == "sipantau-blanko"
    assert (m["image"]["width"], m["image"]["height"]) == (img.shape[1], img.shape[0])
    t = get_template("sipantau-blanko")
    assert [f["name"] for f in m["fields"]] == [f.name for f in t.fields]
    assert m["checks"] == [c.expr for c in t.checks]
    # every box lies on the page and has a printed outline at its left edge
    for f in m["fields"]:
        assert set(f) == {"name", "boxes"}
        for x, y, w, h in f["boxes"]:
            assert 0 <= x and x + w <= img.shape[1] and 0 <= y and y + h <= img.shape[0]
            assert img[y + h // 2, x - 1 : x + 3].min() < 80
    # the QR code carries the template and the TPS
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    assert text == "SIPANTAU|sipantau-blanko|1673010001-007"


def test_render_pdf(tmp_path):
    out = tmp_path / "b.pdf"
    assert main(["templates", "render", "sipantau-blanko", "--out", str(out)]) == 0
    assert out.read_bytes()[:5] == b"%PDF-"


def test_unknown_template_is_a_clear_error(tmp_path, capsys):
    assert main(["templates", "render", "nope", "--out", str(tmp_path / "x.png")]) == 2
    assert "tidak dikenal" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["x.jpg"])
def test_bad_output_suffix(tmp_path, bad, capsys):
    assert main(["templates", "render", "sipantau-blanko", "--out", str(tmp_path / bad)]) == 2


def test_election_import_and_users_add_set_up_a_service(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, func, select

    from sipantau.api.infra.models import Tps, User, UserTps

    data = ["--data", str(tmp_path / "data")]
    assert main(["election", "import", *data]) == 0
    env = {"PW": "kata-sandi-admin"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        args = ["users", "add", "Budi", "--role", "monitor", "--tps", "1673011001-001"]
        assert main([*args, "--password-env", "PW", *data]) == 0
        assert main([*args, "--password-env", "PW", *data]) == 2  # exists already
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'sipantau.db'}")
    with engine.connect() as db:
        assert db.scalar(select(func.count()).select_from(Tps)) == 328
        assert db.scalar(select(User.role).where(User.username == "budi")) == "monitor"
        assert db.scalar(select(UserTps.tps_code)) == "1673011001-001"
    engine.dispose()
    bad = tmp_path / "tps.csv"
    bad.write_text("kecamatan_code,kecamatan\n1,x\n", encoding="utf-8")
    args = ["election", "import", "--election", str(tmp_path / "none.yaml"), "--regions", str(bad)]
    assert main([*args, *data]) == 2
