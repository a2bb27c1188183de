"""Shared fixtures: rendered blank forms and simple synthetic photos of them."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import pytest

from sipantau.templates.registry import get_template
from sipantau.templates.render import render

T = TypeVar("T")

# Real forms and photos (../shared/ next to the repository, or $SIPANTAU_SHARED): read where they
# lie, never copied into the project. Tests that need them carry @pytest.mark.realdata.
SHARED = Path(
    os.environ.get("SIPANTAU_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)


def shared_path(*parts: str) -> Path:
    """A path under ../shared/; missing: a failure with CI=true, else a skip that says why."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        why = f"real data {path} is missing (../shared/ holds the real forms, never committed)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared/ folder (see `shared_path`)."""
    return shared_path()


@pytest.fixture(scope="session")
def blanko():
    return get_template("sipantau-blanko")


@pytest.fixture(scope="session")
def blanko_page(blanko):
    return render(blanko, dpi=200, tps="1673010001-001").image


def photograph(
    page: np.ndarray,
    rotation: int = 0,
    size=(4000, 3000),
    shift=(0, 0),
    blur: float = 0.0,
    quality: int = 88,
) -> bytes:
    """A plain synthetic photo: the page in perspective, turned by `rotation` quarter turns."""
    h, w = page.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[1250, 250], [2800, 380], [2700, 2760], [1150, 2640]])
    dst += np.float32(shift)
    dst = np.roll(dst, rotation, axis=0)
    photo = cv2.warpPerspective(
        page, cv2.getPerspectiveTransform(src, dst), size, borderValue=(70, 100, 130)
    )
    if blur:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    ok, jpg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return jpg.tobytes()


# --- Real databases, the real service, a real browser (tests/pg.py, tests/service.py) ---

DATABASES = ["sqlite", "postgresql"]
_DB_SEQ = itertools.count(1)


def _or_fail(start: Callable[[], T], prefix: str = "") -> T:
    """`start()`, or a test failure (never a skip) with its message, e.g. the install hint."""
    try:
        return start()
    except RuntimeError as e:
        problem = prefix + str(e)  # failed outside the except block: no chained traceback
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster for the session; fails (never skips) without one."""
    from tests.pg import start_cluster

    cluster = _or_fail(start_cluster, "PostgreSQL is needed for these tests: ")
    yield cluster
    cluster.stop()


def _fresh_db_url(request: pytest.FixtureRequest, kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'sipantau.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"t{next(_DB_SEQ)}_{request.node.name}"[:60])


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database for one test: SQLite in tmp_path, or one in the PG cluster."""
    return _fresh_db_url(request, request.param, tmp_path)


@pytest.fixture(scope="module", params=DATABASES)
def service_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A fresh, empty database shared by one module's tests (for the module's `service`)."""
    return _fresh_db_url(request, request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def service(service_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    """`sipantau serve --demo --no-samples` with 2 workers on each database, for one module.

    Talk to its database through `service.database_url`, not `db_url` (a different one).
    Its accounts: `service.demo_credentials()`. For other options (workers, a short job
    lease, the sample photos) build a `LiveService` in the test.
    """
    from tests.service import LiveService

    tmp = tmp_path_factory.mktemp("service")
    live = LiveService(tmp, service_db_url, workers=2, demo=True, samples=False)
    _or_fail(live.start)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def redis_server():
    """A throwaway redis-server (no persistence) for one module; fails (never skips) without one.

    `redis_server.url` is its broker URL; `kill()` then `start()` is a crash that loses every
    message it held.
    """
    from tests.redis_server import start_redis

    server = _or_fail(start_redis, "redis-server is needed for these tests: ")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Playwright, for one module."""
    from playwright.sync_api import sync_playwright

    from tests.service import launch_chromium

    with sync_playwright() as pw:
        chromium = _or_fail(lambda: launch_chromium(pw))
        yield chromium
        chromium.close()
