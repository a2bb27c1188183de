"""The test infrastructure itself: the throwaway PostgreSQL, fresh databases, chromium, serve."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.pg import PgCluster
from tests.service import LiveService, process_alive

PAGE = b"<!doctype html><html><head><title>Hitung cepat</title></head><body>ok</body></html>"


def test_the_pg_cluster_runs_sql_in_separate_databases(pg_cluster: PgCluster) -> None:
    first = sa.create_engine(pg_cluster.create_database("infra_first"))
    second = sa.create_engine(pg_cluster.create_database("infra_second"))
    try:
        with first.begin() as conn:
            assert conn.execute(sa.text("select 1")).scalar() == 1
            assert conn.execute(sa.text("show fsync")).scalar() == "off"
            conn.execute(sa.text("create table t (id serial primary key, name text not null)"))
            conn.execute(sa.text("insert into t (name) values ('a'), ('b')"))
        with first.connect() as conn:
            assert conn.execute(sa.text("select count(*) from t")).scalar() == 2
        assert sa.inspect(second).get_table_names() == []
    finally:
        first.dispose()
        second.dispose()
    with pytest.raises(ValueError):
        pg_cluster.create_database("infra_first")


def test_a_plain_postgresql_url_is_served_by_psycopg(pg_cluster: PgCluster) -> None:
    from sipantau.api.infra.db import migrate, session_factory
    from sipantau.api.infra.models import Race
    from sipantau.api.infra.settings import ServiceSettings

    url = pg_cluster.create_database("infra_plain_url")
    assert url.startswith("postgresql+psycopg://")
    plain = "postgresql://" + url.split("://", 1)[1]  # as psql and hosting providers write it
    settings = ServiceSettings(database_url=plain)
    assert settings.db_url == url
    assert ServiceSettings(database_url="postgres://u@h/d").db_url == "postgresql+psycopg://u@h/d"
    assert ServiceSettings(database_url="sqlite:///x.db").db_url == "sqlite:///x.db"
    migrate(settings.db_url)
    with session_factory(settings.db_url)() as session:
        assert session.query(Race).count() == 0


def test_db_url_is_a_fresh_empty_database(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (id integer primary key)"))
            conn.execute(sa.text("insert into t (id) values (1)"))
        assert sa.inspect(engine).get_table_names() == ["t"]
    finally:
        engine.dispose()


@pytest.fixture
def page_server() -> Iterator[str]:
    """A one-page site on loopback, served by `http.server` in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_chromium_loads_pages_by_http_and_data_url(browser, page_server: str) -> None:
    page = browser.new_page()
    try:
        page.goto(page_server)
        assert page.title() == "Hitung cepat"
        assert page.inner_text("body") == "ok"
        page.goto("data:text/html,<title>dari data</title><p id=x>1+2</p>")
        assert page.title() == "dari data"
        assert page.evaluate("1 + 2") == 3
    finally:
        page.close()


def test_a_service_that_cannot_start_fails_with_its_stderr(tmp_path: Path) -> None:
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    live = LiveService(tmp_path, unreachable)
    with pytest.raises(RuntimeError, match="sipantau serve exited") as failure:
        live.start(timeout_s=60)
    assert "stderr tail" in str(failure.value)
    assert live.stderr_log.exists()


def test_the_service_answers_health_and_runs_its_workers(service: LiveService) -> None:
    assert httpx.get(f"{service.api}/health").json() == {"status": "ok"}
    pids = service.wait_for_workers()
    assert len(pids) == 2 and service.pid not in pids
    assert all(process_alive(pid) for pid in pids)
    admin = next(u for u in service.demo_credentials()["users"] if u["role"] == "admin")
    me = service.login(admin["username"], admin["password"]).get("/me")
    assert me.status_code == 200 and me.json()["role"] == "admin"


def test_stopping_the_service_ends_its_workers(db_url: str, tmp_path: Path) -> None:
    live = LiveService(tmp_path, db_url, workers=1, job_lease_s=2).start()
    pids = live.wait_for_workers()
    assert all(process_alive(pid) for pid in pids)
    assert live.stop() is not None
    assert not any(process_alive(pid) for pid in pids)
