"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL with the same code."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("sipantau.db")
MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    """An engine with the settings each backend needs for several processes writing at once.

    On SQLite, `immediate` engines take the write lock when a transaction begins; read-only
    work uses an engine without it, so readers never wait for writers (WAL).
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, IMMEDIATE
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an acknowledged upload survives power loss
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the lock up front: a deferred transaction that reads and then writes
            # fails at once (SQLITE_BUSY) when another process wrote in between.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=8)
def engine_for(url: str, immediate: bool = True) -> Engine:
    if not url.startswith("sqlite"):
        immediate = True  # one engine serves both on PostgreSQL
    return make_engine(url, immediate=immediate)


def session_factory(url: str, *, readonly: bool = False) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url, not readonly), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits at the end, or rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def migrate(url: str) -> None:
    """Bring the schema to the newest migration (Alembic)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
