"""Figures counted from the database at scrape time: queue, readings, forms, workers.

Cached a few seconds per API process (`DatabaseCollector`) so that a scrape storm cannot load
the database; the reading histograms are counted incrementally, as readings are append-only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import Engine, TextClause, bindparam, create_engine, text
from sqlalchemy.engine import Connection, make_url

from sipantau.api.infra.models import UtcDateTime, utcnow

log = logging.getLogger("sipantau.metrics")
READER_BUCKETS_S = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)
WAIT_BUCKETS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
CHUNK_ROWS = 100_000  # readings counted per statement when catching up (first scrape)
WORKER_WINDOW_S = 120  # a worker counts as alive if it read or holds a job within this


@lru_cache(maxsize=8)
def ops_engine(url: str) -> Engine:
    """A small engine for probes and scrapes, with short timeouts: they must never hang."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return create_engine(url, connect_args={"timeout": 3, "check_same_thread": False})
    args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        args = {"connect_timeout": 3, "options": "-c statement_timeout=5000"}
    return create_engine(
        url, pool_size=2, max_overflow=2, pool_timeout=3, pool_pre_ping=True, connect_args=args
    )


def connect(url: str) -> Connection:
    """A connection from `ops_engine`; a missing SQLite file is an error, never created empty."""
    parsed = make_url(url)
    path = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:"):
        if not Path(path).exists():
            raise FileNotFoundError(f"berkas basis data {path} tidak ada")
    return ops_engine(url).connect()


Section = Callable[[Connection], Iterator[Metric]]


def _at(sql: str) -> TextClause:
    """`sql` with its `:t` bound as a UTC timestamp, stored as each database stores it."""
    return text(sql).bindparams(bindparam("t", type_=UtcDateTime()))


def _seconds_between(dialect: str, start: str, end: str) -> str:
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    # julianday is a double of ~2.46e6 days: its difference carries ~1e-4 s of noise, which
    # moves a wait of exactly 30 s past the 30 s bucket; timestamps have ms precision at most
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"


def _buckets_sql(expr: str, buckets: Iterable[float]) -> list[str]:
    counts = [f"SUM(CASE WHEN {expr} <= {b!r} THEN 1 ELSE 0 END)" for b in buckets]
    return [*counts, f"COALESCE(SUM({expr}), 0)"]


@dataclass
class Tally:
    """Cumulative histogram counts (each bucket's, then the sum) and counts by reader status."""

    reader: list[float] = field(default_factory=lambda: [0.0] * (len(READER_BUCKETS_S) + 1))
    wait: list[float] = field(default_factory=lambda: [0.0] * (len(WAIT_BUCKETS_S) + 1))
    by_status: dict[str, int] = field(default_factory=dict)

    def plus(self, other: Tally) -> Tally:
        statuses = {
            k: self.by_status.get(k, 0) + other.by_status.get(k, 0)
            for k in {*self.by_status, *other.by_status}
        }
        return Tally(
            [a + b for a, b in zip(self.reader, other.reader, strict=True)],
            [a + b for a, b in zip(self.wait, other.wait, strict=True)],
            statuses,
        )


class ReadingTotals:
    """Histograms over every reading, counted incrementally: readings are append-only.

    Rows older than `settle_s` are added once to running totals (`upto`: the highest id
    counted); younger ones are recounted at each scrape, so a reading whose transaction
    commits after a higher id's is not missed unless it commits `settle_s` after its insert.
    """

    def __init__(self, settle_s: float = 60.0, chunk_rows: int = CHUNK_ROWS) -> None:
        self.settle_s, self.chunk_rows = settle_s, chunk_rows
        self.upto = 0
        self.settled = Tally()

    def __call__(self, conn: Connection) -> Iterator[Metric]:
        cutoff = utcnow() - timedelta(seconds=self.settle_s)
        newest = conn.scalar(
            _at("SELECT MAX(id) FROM readings WHERE created_at < :t"), {"t": cutoff}
        )
        while newest is not None and newest > self.upto:  # in chunks: no statement runs long
            upto = min(newest, self.upto + self.chunk_rows)
            self.settled, self.upto = self.settled.plus(self._tally(conn, self.upto, upto)), upto
        now = self.settled.plus(self._tally(conn, self.upto, None))
        n = sum(now.by_status.values())
        yield _histogram(
            "sipantau_reader_seconds",
            "The reader's own time per photo (decode to verdict), as recorded with each reading",
            now.reader,
            READER_BUCKETS_S,
            n,
        )
        yield _histogram(
            "sipantau_upload_to_read_seconds",
            "From upload acknowledged to its reading stored (queue wait plus reading)",
            now.wait,
            WAIT_BUCKETS_S,
            n,
        )
        total = CounterMetricFamily(
            "sipantau_readings", "Readings stored, by the reader's verdict", labels=["status"]
        )
        for status, count in sorted(now.by_status.items()):
            total.add_metric([status], count)
        yield total

    @staticmethod
    def _tally(conn: Connection, after: int, upto: int | None) -> Tally:
        """Readings with `after` < id <= `upto` (no upper bound when None), aggregated in SQL."""
        wait = _seconds_between(conn.dialect.name, "s.created_at", "r.created_at")
        cols = [
            *_buckets_sql("(r.ms / 1000.0)", READER_BUCKETS_S),
            *_buckets_sql(wait, WAIT_BUCKETS_S),
        ]
        where = "r.id > :after" + ("" if upto is None else " AND r.id <= :upto")
        sql = (
            f"SELECT r.status, COUNT(*), {', '.join(cols)} FROM readings r "
            f"JOIN submissions s ON s.id = r.submission_id WHERE {where} GROUP BY r.status"
        )
        out = Tally()
        split = len(READER_BUCKETS_S) + 1
        for status, count, *values in conn.execute(text(sql), {"after": after, "upto": upto}):
            part = [float(v or 0) for v in values]
            out = out.plus(Tally(part[:split], part[split:], {status: int(count)}))
        return out


def _histogram(
    name: str, doc: str, values: list[float], buckets: tuple[float, ...], count: int
) -> HistogramMetricFamily:
    pairs = [(repr(b), values[i]) for i, b in enumerate(buckets)]
    return HistogramMetricFamily(
        name, doc, buckets=[*pairs, ("+Inf", count)], sum_value=values[len(buckets)]
    )


def _forms(conn: Connection) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        "sipantau_forms", "Submissions (photos of a form) by status", labels=["status"]
    )
    verified = GaugeMetricFamily(
        "sipantau_forms_verified",
        "Verified forms (they count toward totals), by who verified them",
        labels=["by"],
    )
    counts = {"machine": 0, "reviewer": 0}
    statuses = dict.fromkeys(("queued", "reading", "review", "verified", "rejected"), 0)
    rows = conn.execute(
        text(
            "SELECT status, verified_by IS NULL AS machine, COUNT(*) AS n "
            "FROM submissions GROUP BY status, verified_by IS NULL"
        )
    )
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + row.n
        if row.status == "verified":
            counts["machine" if row.machine else "reviewer"] += row.n
    for status, n in sorted(statuses.items()):
        by_status.add_metric([status], n)
    for by, n in counts.items():
        verified.add_metric([by], n)
    yield by_status
    yield verified
    yield GaugeMetricFamily(
        "sipantau_review_waiting", "Forms waiting for a reviewer", value=statuses["review"]
    )


def _jobs(conn: Connection) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "sipantau_jobs", "Reading jobs queued, being read, or failed", labels=["state"]
    )
    states = dict.fromkeys(("queued", "running", "failed"), 0)
    sql = "SELECT state, COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running', 'failed')"
    for row in conn.execute(text(sql + " GROUP BY state")):  # the state index; never `done`
        states[row.state] = row.n
    for state, n in sorted(states.items()):
        depth.add_metric([state], n)
    yield depth
    oldest = conn.scalar(text("SELECT MIN(created_at) FROM jobs WHERE state = 'queued'"))
    age = 0.0
    if oldest is not None:
        age = max(0.0, (utcnow() - _aware(oldest)).total_seconds())
    yield GaugeMetricFamily(
        "sipantau_queue_oldest_seconds", "Age of the oldest job still waiting for a worker", age
    )


def _aware(value: Any) -> Any:
    """A timestamp from a raw query (SQLite gives text without a zone; it is UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _workers(conn: Connection) -> Iterator[Metric]:
    since = utcnow() - timedelta(seconds=WORKER_WINDOW_S)
    held = _at("SELECT owner FROM jobs WHERE state = 'running' AND lease_until > :t")
    names = set(conn.scalars(held, {"t": utcnow()}))
    recent = conn.execute(
        text("SELECT worker, created_at FROM readings ORDER BY id DESC LIMIT 500")
    )
    names.update(r.worker for r in recent if _aware(r.created_at) >= since)
    yield GaugeMetricFamily(
        "sipantau_workers_active",
        f"Workers that held a job or stored a reading in the last {WORKER_WINDOW_S} s",
        len(names),
    )


class DatabaseCollector:
    """Figures computed from the database at scrape time, cached for `ttl_s` seconds."""

    def __init__(self, url: str, ttl_s: float = 5.0) -> None:
        self.url, self.ttl_s = url, ttl_s
        self._lock = threading.Lock()
        self._at = -1e9
        self._cached: list[Metric] = []
        self.sections: tuple[Section, ...] = (_forms, _jobs, ReadingTotals(), _workers)

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # one scrape queries; the others wait and share its answer
            if time.monotonic() - self._at >= self.ttl_s:
                self._cached, self._at = self._query(), time.monotonic()
            yield from self._cached

    def _query(self) -> list[Metric]:
        t0 = time.perf_counter()
        found: list[Metric] = []
        ok = 1
        try:
            with connect(self.url) as conn:
                for section in self.sections:
                    found.extend(section(conn))
        except Exception as exc:  # the database is down: say so, keep /metrics answering
            log.warning("metrics: database query failed: %s: %s", type(exc).__name__, exc)
            found, ok = [], 0
        found.append(
            GaugeMetricFamily(
                "sipantau_metrics_database_up",
                "1 when the last scrape-time database query succeeded",
                ok,
            )
        )
        found.append(
            GaugeMetricFamily(
                "sipantau_metrics_database_seconds",
                "Time the last scrape-time database query took",
                time.perf_counter() - t0,
            )
        )
        return found
