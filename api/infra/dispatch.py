"""Telling workers that a job is ready: nothing to do on the db backend, a message on celery.

The database is the record of every job; a message is only a hint, so publishing never fails
an upload. A failed publish is logged and left to the sweeper (`sweep`), which every celery
worker runs: it publishes again jobs whose worker vanished and queued jobs whose message looks
lost (the broker holds fewer messages than the database has jobs waiting).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sipantau.api.infra import jobs
from sipantau.api.infra.db import transaction
from sipantau.api.infra.settings import ServiceSettings

if TYPE_CHECKING:
    from celery import Celery

    from sipantau.api.infra.context import Context

log = logging.getLogger("sipantau.dispatch")
QUEUE = "sipantau.read"
TASK = "sipantau.read"
# After a failed publish, uploads skip the broker this long (the sweeper catches up), so an
# unreachable broker costs one timeout, not one per upload.
BREAKER_S = 5.0
RETRY_POLICY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}


class Publisher:
    """Sends "job N is ready" to the broker; never raises."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._closed_until = 0.0
        self._lock = threading.Lock()

    def publish(self, job_ids: Iterable[int], *, force: bool = False) -> int:
        """Publish each job; how many went out (0 while the breaker is open, unless `force`)."""
        ids = list(job_ids)
        if not ids or (not force and time.monotonic() < self._closed_until):
            return 0
        sent = 0
        try:
            with self.app.producer_or_acquire() as producer:
                for job_id in ids:
                    self.app.send_task(
                        TASK,
                        args=[job_id],
                        queue=QUEUE,
                        producer=producer,
                        retry=True,
                        retry_policy=RETRY_POLICY,
                    )
                    sent += 1
        except Exception as exc:  # noqa: BLE001 - the broker is a hint; the sweeper catches up
            with self._lock:
                self._closed_until = time.monotonic() + BREAKER_S
            log.warning(
                "publish failed after %d of %d jobs (%s: %s); the sweeper will publish again",
                sent,
                len(ids),
                type(exc).__name__,
                exc,
            )
        else:
            self._closed_until = 0.0
        return sent

    def depth(self, live_s: float | None = None) -> int | None:
        """Messages the broker holds for the queue: ready, plus delivered and unacknowledged
        ones (only those delivered in the last `live_s` seconds); None: unknown.

        A worker killed between taking a message and claiming its job leaves the message
        unacknowledged for the broker's visibility timeout (an hour) while the job waits
        `queued`; such a message is older than a job lease and must not hide the job.
        """
        try:
            with self.app.connection_for_read() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0.1)  # the sweeper tries again
                channel = conn.default_channel
                ready = _ready(channel)
                unacked = _unacked(channel, live_s)
            return ready + unacked
        except Exception as exc:  # noqa: BLE001 - unknown depth: publish what is overdue
            log.warning("broker depth unknown (%s: %s)", type(exc).__name__, exc)
            return None


def _unacked(channel: object, live_s: float | None) -> int:
    """Delivered, unacknowledged messages (kombu's Redis keys; 0 on other transports)."""
    client = getattr(channel, "client", None)  # the Redis transport
    key = getattr(channel, "unacked_key", None)
    index = getattr(channel, "unacked_index_key", None)
    if client is None or not key:
        return 0
    if live_s is None or not index:
        return int(client.hlen(key))
    return int(client.zcount(index, time.time() - live_s, "+inf"))  # scored by delivery time


def _ready(channel: object) -> int:
    from kombu import Queue

    try:
        return int(Queue(QUEUE).bind(channel).queue_declare(passive=True).message_count)
    except Exception as exc:  # noqa: BLE001 - an empty Redis queue does not exist
        if type(exc).__name__ in ("ChannelError", "NotFound"):
            return 0
        raise


_publishers: dict[str, Publisher] = {}
_publishers_lock = threading.Lock()


def publisher_for(settings: ServiceSettings) -> Publisher:
    """One publisher a process and broker (its connection pool is shared by threads)."""
    with _publishers_lock:
        found = _publishers.get(settings.broker_url)
        if found is None:
            from sipantau.api.infra.celery_app import make_app

            found = _publishers[settings.broker_url] = Publisher(make_app(settings))
        return found


def publish(settings: ServiceSettings, job_id: int) -> None:
    """After the upload's commit: tell a worker (celery backend); never raises."""
    if settings.job_backend == "celery":
        publisher_for(settings).publish([job_id])


def sweep(ctx: Context, publisher: Publisher, reap: Callable[[], None]) -> dict[str, int]:
    """One pass: give spent jobs to a person, re-publish vanished workers' and lost jobs."""
    s = ctx.settings
    reap()
    with transaction(ctx.sessions) as session:
        expired = jobs.requeue_expired(session, s.job_max_attempts, s.job_republish_s)
    sent = publisher.publish(expired, force=True)
    with ctx.reads() as session:
        waiting = jobs.pending(session)
    depth = publisher.depth(live_s=s.job_lease_s) if waiting else 0
    overdue: list[int] = []
    if waiting and (depth is None or depth < waiting):
        with transaction(ctx.sessions) as session:
            overdue = jobs.due(session, s.job_republish_s)
        sent += publisher.publish(overdue, force=True)
    if expired or overdue:
        log.info(
            "sweep: %d expired leases and %d overdue jobs published again (%d sent); "
            "%d waiting, broker holds %s",
            len(expired),
            len(overdue),
            sent,
            waiting,
            depth,
        )
    return {"expired": len(expired), "overdue": len(overdue), "sent": sent, "waiting": waiting}


class Sweeper(threading.Thread):
    """`sweep` every job_sweep_s in a daemon thread, until `stop`; errors are logged, not fatal."""

    def __init__(self, ctx: Context, publisher: Publisher, reap: Callable[[], None]) -> None:
        super().__init__(daemon=True, name="sipantau-sweeper")
        self.ctx, self.publisher, self.reap = ctx, publisher, reap
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.ctx.settings.job_sweep_s):
            try:
                sweep(self.ctx, self.publisher, self.reap)
            except Exception:  # the database restarting, say: try again next time
                log.exception("sweep failed")

    def stop(self) -> None:
        self._stop_event.set()
