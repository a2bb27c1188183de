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

# --- Markers (registered in pyproject.toml): every test gets one of unit/service/browser ---

KINDS = ("unit", "service", "browser", "realdata")
BROWSER_MODULES = {"test_monitor_page", "test_ui_e2e"}
SERVICE_MODULES = {
    "test_api",
    "test_celery",
    "test_dashboard_ui",
    "test_infra",
    "test_ops",
    "test_reports_api",
    "test_review_ui",
    "test_service_units",
    "test_storage",
    "test_worker_kill",
}
# fixtures that start a server: a test using one (even through another fixture) is `service`
SERVER_FIXTURES = {"pg_cluster", "db_url", "service_db_url", "service", "redis_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test unit, service or browser by its module and fixtures, unless it says."""
    for item in items:
        if any(item.get_closest_marker(kind) for kind in KINDS):
            continue
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        if module in BROWSER_MODULES or "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        elif module in SERVICE_MODULES or fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.service)
        else:
            item.add_marker(pytest.mark.unit)


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


@pytest.fixture(scope="session", params=DATABASES)
def shared_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The database of the shared `service` (one a kind for the whole session)."""
    return _fresh_db_url(request, request.param, tmp_path_factory.mktemp(f"shared-{request.param}"))


@pytest.fixture(scope="session")
def service(shared_db_url: str, tmp_path_factory: pytest.TempPathFactory):
    """`sipantau serve --demo --no-samples` with 2 workers on each database, shared by every
    module that asks for it (one start a database kind, not one a module).

    Shared: a test may add submissions and incidents for the TPS it picks, but must not count on
    an empty queue, change the election or accounts, or stop it. Tests that need a fresh
    database (or other options: workers, a short job lease, the sample photos) build their own
    `LiveService` on `service_db_url`. Its database: `service.database_url`; its accounts:
    `service.demo_credentials()`.
    """
    from tests.service import LiveService

    tmp = tmp_path_factory.mktemp("service")
    live = LiveService(tmp, shared_db_url, workers=2, demo=True, samples=False)
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


@pytest.fixture
def sessions(db_url: str):
    """A migrated database with one election, race, TPS, monitor and three photos (a, b, c)."""
    from sipantau.api.domain.auth import hash_password
    from sipantau.api.infra.db import migrate, session_factory, transaction
    from sipantau.api.infra.models import (
        ElectionRow,
        Kecamatan,
        Kelurahan,
        Photo,
        Race,
        Tps,
        User,
    )

    migrate(db_url)
    factory = session_factory(db_url)
    with transaction(factory) as s:
        s.add(ElectionRow(id=1, name="Uji", region="Kota", date="2024-11-27"))
        s.add(Race(id="walikota", short="wako", name="W", paslon=["A", "B", "C"], position=0))
        s.add(Kecamatan(code="167301", name="Kec"))
        s.flush()
        s.add(Kelurahan(code="1673011001", name="Kel", kecamatan_code="167301"))
        s.flush()
        s.add(Tps(code="1673011001-001", kelurahan_code="1673011001", number=1, dpt=400))
        s.add(User(username="ani", role="monitor", password_hash=hash_password("rahasia-ani")))
        for c in "abc":
            s.add(Photo(sha256=c * 64, size=1, format="JPEG", width=1, height=1))
    return factory
