"""Operations over real HTTP: readiness, Prometheus metrics, JSON logs (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from sipantau.api.infra.db import migrate
from sipantau.api.web.routes.ops import CheckFailed, Checks, check_broker, check_database
from tests.pg import free_port
from tests.polling import wait_for
from tests.service import LiveService

SAMPLE = sorted((Path(__file__).resolve().parents[1] / "samples").glob("sipantau-blanko-*.jpg"))[0]
JSON_ENV = {"SIPANTAU_LOG_FORMAT": "json"}


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`, parsed by prometheus_client's own parser."""
    r = httpx.get(f"{url}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict[Any, float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


@pytest.fixture(scope="module")
def svc(service_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """One worker, JSON logs, demo accounts; one per database."""
    live = LiveService(
        tmp_path_factory.mktemp("ops"), service_db_url, demo=True, samples=False, env=JSON_ENV
    )
    live.start()
    live.wait_for_workers(1)
    yield live
    live.stop()


def admin_of(svc: LiveService) -> tuple[httpx.Client, list[str]]:
    users = svc.demo_credentials()["users"]
    password = next(u["password"] for u in users if u["username"] == "admin")
    tps = [u["tps"][0] for u in users if u["role"] == "monitor"]
    return svc.login("admin", password), tps


def test_ready_answers_200_with_every_check(svc: LiveService) -> None:
    r = httpx.get(f"{svc.api}/ready", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["photo_store"]["ok"] is True
    assert "broker" not in body["checks"]  # the embedded job backend needs none
    assert httpx.get(f"{svc.api}/health", timeout=5).json() == {"status": "ok"}


def test_metrics_counters_move_by_exactly_the_uploads(svc: LiveService) -> None:
    admin, tps = admin_of(svc)
    before = scrape(svc.url)
    photo = SAMPLE.read_bytes()

    def upload(client: httpx.Client, code: str, data: bytes) -> int:
        files = {"photo": ("f.jpg", data, "image/jpeg")}
        return client.post(
            "/submissions", data={"tps": code, "race": "semua"}, files=files
        ).status_code

    assert upload(admin, tps[0], photo) == 201
    assert upload(admin, tps[1], photo) == 201
    assert upload(admin, tps[0], photo) == 200  # the same photo again: a duplicate
    assert upload(admin, tps[2], b"not a photo at all") == 415
    assert upload(svc.client(), tps[2], photo) == 401  # no token: refused too
    after = scrape(svc.url)
    moved = {
        o: value(after, "sipantau_uploads_total", outcome=o)
        - value(before, "sipantau_uploads_total", outcome=o)
        for o in ("new", "duplicate", "refused", "error")
    }
    assert moved == {"new": 2, "duplicate": 1, "refused": 2, "error": 0}
    route = {"method": "POST", "route": "/api/v1/submissions"}
    posts = value(after, "sipantau_http_requests_total", **route, status="201") - value(
        before, "sipantau_http_requests_total", **route, status="201"
    )
    assert posts == 2

    # Database figures (computed at scrape time, cached 5 s): both new forms read by the worker.
    deadline = time.monotonic() + 60
    while True:
        now = scrape(svc.url)
        read = now[("sipantau_reader_seconds_count", ())] - before.get(
            ("sipantau_reader_seconds_count", ()), 0
        )
        if read == 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert read == 2, svc.log_tail()
    assert value(now, "sipantau_metrics_database_up") == 1
    assert total(now, "sipantau_forms") - total(before, "sipantau_forms") == 2
    assert (
        value(now, "sipantau_upload_to_read_seconds_count")
        - value(before, "sipantau_upload_to_read_seconds_count")
        == 2
    )
    assert total(now, "sipantau_readings_total") - total(before, "sipantau_readings_total") == 2
    for state in ("queued", "running", "failed"):
        assert value(now, "sipantau_jobs", state=state) == 0, state
    assert value(now, "sipantau_workers_active") >= 1
    # the same photo for two TPS is flagged: neither is verified, both wait for a reviewer
    assert value(now, "sipantau_review_waiting") >= 2
    assert value(now, "sipantau_review_waiting") == value(now, "sipantau_forms", status="review")


def test_json_logs_parse_line_by_line(svc: LiveService) -> None:
    r = httpx.get(f"{svc.api}/me", headers={"X-Request-ID": "ops-test-42"}, timeout=10)
    assert r.headers["x-request-id"] == "ops-test-42"
    wait_for(lambda: "ops-test-42" in svc.stderr_log.read_text(), 10, "the request's log line")
    lines = [line for line in svc.stderr_log.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON log line: {line[:200]}")
    for rec in records:
        assert {"time", "level", "logger", "message", "process"} <= rec.keys(), rec
    mine = [x for x in records if x.get("request_id") == "ops-test-42"]
    assert len(mine) == 1 and mine[0]["logger"] == "sipantau.access", mine
    assert mine[0]["method"] == "GET" and mine[0]["path"] == "/api/v1/me"
    assert mine[0]["status"] == r.status_code and mine[0]["ms"] >= 0
    loggers = {x["logger"] for x in records}
    assert "sipantau.worker" in loggers  # the workers' lines too
    assert "uvicorn.error" in loggers  # and uvicorn's own
    assert len({x["process"] for x in records}) >= 2


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_ready_is_503_with_a_clear_message_when_the_database_is_unreachable(
    kind: str, tmp_path: Path
) -> None:
    from tests.pg import start_cluster

    cluster = start_cluster() if kind == "postgresql" else None
    url = cluster.create_database("ops_gone") if cluster else f"sqlite:///{tmp_path / 'db.sqlite'}"
    live = LiveService(tmp_path / "svc", url, workers=0)
    try:
        live.start()
        assert httpx.get(f"{live.api}/ready", timeout=10).status_code == 200
        if cluster:
            cluster.stop()
        else:
            (tmp_path / "db.sqlite").rename(tmp_path / "elsewhere.sqlite")
        t0 = time.monotonic()
        r = httpx.get(f"{live.api}/ready", timeout=15)
        assert time.monotonic() - t0 < 6  # every check has a deadline
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["photo_store"]["ok"] is True
        assert body["error"]["code"] == "not_ready"
        assert body["error"]["message"].startswith("layanan belum siap: database: ")
        assert "tidak" in body["checks"]["database"]["message"]
        assert httpx.get(f"{live.api}/health", timeout=5).status_code == 200  # still alive
        deadline = time.monotonic() + 15  # /metrics keeps answering, and says the DB is down
        while value(scrape(live.url), "sipantau_metrics_database_up") != 0:
            assert time.monotonic() < deadline
            time.sleep(1)
    finally:
        live.stop()
        if cluster:
            cluster.stop()


def test_database_check_names_a_missing_or_old_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    create_engine(url).connect().close()  # an empty database file
    with pytest.raises(CheckFailed, match="belum dimigrasi"):
        check_database(url)
    migrate(url)
    check_database(url)  # at head: passes
    with create_engine(url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(CheckFailed, match="seharusnya"):
        check_database(url)


def test_broker_check_against_a_real_redis_and_a_silent_port(tmp_path: Path) -> None:
    port = free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                check_broker(f"redis://127.0.0.1:{port}/0")
                break
            except Exception:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
    finally:
        redis.terminate()
        redis.wait(10)
    with pytest.raises(Exception, match="(?i)connect"):
        check_broker(f"redis://127.0.0.1:{free_port()}/0")


def test_a_check_that_hangs_answers_within_its_deadline() -> None:
    """A listener that never answers (the kernel completes the handshake, nobody reads)."""
    import asyncio

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        checks = Checks(timeout_s=0.5)
        t0 = time.monotonic()
        result = asyncio.run(checks.run("broker", lambda: check_broker(url)))
        assert time.monotonic() - t0 < 1.5
        assert result["ok"] is False and "tidak menjawab dalam 0.5 detik" in result["message"]
        # asked again while the first is still hanging: waits on it, starts no second one
        result = asyncio.run(checks.run("broker", lambda: check_broker(url)))
        assert result["ok"] is False
        checks.pool.shutdown(wait=True)


def test_reading_histograms_count_every_reading_once(tmp_path: Path) -> None:
    """Old readings are settled in chunks, fresh ones recounted: each counted exactly once."""
    from sipantau.api.infra.metrics_db import ReadingTotals, connect

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    migrate(url)
    engine = create_engine(url)

    with engine.begin() as c:
        c.execute(text("INSERT INTO kecamatan(code, name) VALUES ('k', 'k')"))
        c.execute(text("INSERT INTO kelurahan(code, name, kecamatan_code) VALUES ('l', 'l', 'k')"))
        c.execute(
            text(
                "INSERT INTO tps(code, kelurahan_code, number, dpt, special, name) "
                "VALUES ('t', 'l', 1, 300, 0, 't')"
            )
        )
        c.execute(
            text(
                "INSERT INTO users(id, username, name, role, password_hash, active, created_at) "
                "VALUES (1, 'u', 'u', 'monitor', 'x', 1, CURRENT_TIMESTAMP)"
            )
        )

    def read(first: int, last: int, minutes_ago: int, ms: float) -> None:
        """Readings `first`..`last`, stored `minutes_ago`, uploaded 30 s before that. The times
        are fixed here once: SQL's `datetime('now')` in separate statements can straddle a
        second and put 31 s between upload and reading."""
        stored = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        read_at = f"'{stored:%Y-%m-%d %H:%M:%S}'"
        up_at = f"'{stored - timedelta(seconds=30):%Y-%m-%d %H:%M:%S}'"
        with engine.begin() as c:
            for i in range(first, last + 1):
                p = {"i": i, "p": f"p{i}", "ms": ms}
                c.execute(
                    text(
                        "INSERT INTO photos(sha256, size, format, width, height, created_at) "
                        f"VALUES (:p, 1, 'jpeg', 1, 1, {up_at})"
                    ),
                    p,
                )
                c.execute(
                    text(
                        "INSERT INTO submissions(id, tps_code, race, photo_sha, submitted_by, "
                        f"created_at, status, flags) VALUES (:i, 't', 'semua', :p, 1, {up_at}, "
                        "'review', '[]')"
                    ),
                    p,
                )
                c.execute(
                    text(
                        "INSERT INTO jobs(id, submission_id, state, attempts, created_at) "
                        f"VALUES (:i, :i, 'done', 1, {up_at})"
                    ),
                    p,
                )
                c.execute(
                    text(
                        "INSERT INTO readings(id, submission_id, job_id, created_at, worker, "
                        f"status, reasons, fields, ms) VALUES (:i, :i, :i, {read_at}, 'w', "
                        "'ok', '[]', '{}', :ms)"
                    ),
                    p,
                )

    def collect(totals: ReadingTotals) -> dict[Any, float]:
        with connect(url) as conn:
            families = list(totals(conn))
        return {(s.name, s.labels.get("le", "")): s.value for f in families for s in f.samples}

    totals = ReadingTotals(settle_s=60, chunk_rows=3)
    read(1, 10, 10, 80.0)  # settled, in four chunks
    read(11, 12, 0, 400.0)  # fresh: recounted at every scrape
    got = collect(totals)
    assert totals.upto == 10
    assert got[("sipantau_reader_seconds_count", "")] == 12
    assert got[("sipantau_reader_seconds_bucket", "0.1")] == 10
    assert got[("sipantau_reader_seconds_bucket", "0.5")] == 12
    assert got[("sipantau_readings_total", "")] == 12
    assert got[("sipantau_upload_to_read_seconds_bucket", "10.0")] == 0
    assert got[("sipantau_upload_to_read_seconds_bucket", "30.0")] == 12
    assert abs(got[("sipantau_upload_to_read_seconds_sum", "")] - 12 * 30) < 1
    read(13, 13, 5, 80.0)  # a late, old one: settled on the next scrape
    again = collect(totals)
    assert totals.upto == 13
    assert again[("sipantau_reader_seconds_count", "")] == 13
    assert again[("sipantau_reader_seconds_bucket", "0.1")] == 11
