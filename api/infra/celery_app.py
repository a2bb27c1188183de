"""Celery with a Redis broker: carries "job N is ready" to reading workers on any machine.

The task claims job N in the database by id and runs the worker's own read-and-record code,
so a lost, duplicated or redelivered message can neither lose a reading nor make two. Messages
are acknowledged late (after the job), one at a time a process (prefetch 1), and the broker's
visibility timeout outlasts the job lease. Each worker also runs the sweeper (`dispatch.py`).

Other machines: `celery -A sipantau.api.infra.celery_app worker --pool solo --concurrency 1
--queues sipantau.read --without-gossip --without-mingle` (one a core), or
`python -m sipantau.api.infra.worker` with SIPANTAU_JOB_BACKEND=celery.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from celery import Celery, bootsteps, signals
from celery.exceptions import Reject
from sqlalchemy.exc import InterfaceError, OperationalError

from sipantau.api.infra.dispatch import QUEUE, TASK, Publisher, Sweeper
from sipantau.api.infra.jobs import Unavailable
from sipantau.api.infra.settings import ServiceSettings

if TYPE_CHECKING:
    from sipantau.api.infra.worker import Worker

log = logging.getLogger("sipantau.celery")
DB_DOWN_PAUSE_S = 1.0  # before handing a message back when the database cannot be reached


class Runtime:
    """This process's reading worker, made on first use; a forked pool child drops its parent's."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._worker: Worker | None = None

    @property
    def worker(self) -> Worker:
        if self._worker is None:
            from sipantau.api.infra.context import Context
            from sipantau.api.infra.worker import Worker

            self._worker = Worker(Context.create(self.settings))
        return self._worker

    def forget(self, **_: Any) -> None:
        """In a forked pool child: drop the parent's worker and connections, never closing them."""
        from sipantau.api.infra.db import engine_for

        if self._worker is not None:
            for factory in (self._worker.ctx.sessions, self._worker.ctx.reads):
                factory.kw["bind"].dispose(close=False)
            self._worker = None
        engine_for.cache_clear()


def make_app(settings: ServiceSettings) -> Celery:
    """A Celery app on `settings.broker_url` with the read task and the sweeper step."""
    app = Celery("sipantau", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,  # a prefork child killed: its message goes back
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_routes={TASK: {"queue": QUEUE}},
        broker_transport_options={
            "visibility_timeout": max(3600.0, 2 * settings.job_lease_s),
            "socket_connect_timeout": 3,
        },
        broker_connection_timeout=3,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for the broker, however long
        worker_send_task_events=False,
        # A job running when the broker goes away is finished and recorded; its message comes
        # back later and is dropped (already done), rather than the work being thrown away.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
    )
    runtime = Runtime(settings)
    app.sipantau_runtime = runtime
    signals.worker_process_init.connect(runtime.forget, weak=False)  # prefork children

    @app.task(name=TASK)
    def read(job_id: int) -> bool:
        """Claim job `job_id` and read it; False when it was not ours (done, held, spent)."""
        try:
            if runtime.worker.run_job(job_id):
                return True
            log.info("job %d not claimable (done, held or spent): message dropped", job_id)
            return False
        except (OperationalError, InterfaceError, Unavailable) as exc:  # a restart, say
            log.warning("job %d: %s; message handed back", job_id, exc)
            time.sleep(DB_DOWN_PAUSE_S)
            raise Reject(str(exc), requeue=True) from exc

    app.steps["worker"].add(SweeperStep)
    return app


class SweeperStep(bootsteps.StartStopStep):
    """Runs the sweeper thread next to the worker's consumer (in the main process)."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.sweeper: Sweeper | None = None

    def start(self, parent: Any) -> None:
        runtime: Runtime = parent.app.sipantau_runtime
        worker = runtime.worker
        self.sweeper = Sweeper(worker.ctx, Publisher(parent.app), worker.reap)
        self.sweeper.start()

    def stop(self, parent: Any) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()


@signals.setup_logging.connect
def _keep_logging(**_: Any) -> None:
    """Celery leaves logging alone: `worker.main` (or this, for plain `celery`) sets it up."""
    if not logging.getLogger().handlers:
        from sipantau.api.infra.logs import setup_logging

        setup_logging(ServiceSettings().log_format)


def run_worker(settings: ServiceSettings) -> None:
    """Consume read messages in this process (solo pool, one job at a time) until SIGTERM."""
    app = make_app(settings)
    app.sipantau_runtime.worker.reader  # noqa: B018 - load the model before taking jobs
    name = f"sipantau-{os.getpid()}@{socket.gethostname()}"
    argv = ["worker", "--pool=solo", "--concurrency=1", f"--queues={QUEUE}", "-n", name]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    app.worker_main(argv)


_app: Celery | None = None


def __getattr__(name: str) -> Celery:
    """`celery -A sipantau.api.infra.celery_app` finds `app`, configured from SIPANTAU_*."""
    global _app
    if name not in ("app", "celery"):
        raise AttributeError(name)
    if _app is None:
        _app = make_app(ServiceSettings())
    return _app
