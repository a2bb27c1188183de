"""Reading through Celery and a real Redis broker: every upload read exactly once.

`sipantau serve` runs with SIPANTAU_JOB_BACKEND=celery against a throwaway redis-server (no
persistence), on SQLite and on PostgreSQL. Messages are only hints: duplicates, a worker
SIGKILLed mid-job and a broker that crashes and comes back empty must neither lose a job nor
read one twice.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, select

from sipantau.api.infra import jobs
from sipantau.api.infra.db import transaction
from sipantau.api.infra.dispatch import QUEUE, Publisher
from sipantau.api.infra.models import Job
from sipantau.api.infra.settings import ServiceSettings
from tests.polling import holds_for
from tests.redis_server import RedisServer
from tests.service import LiveService, job_record
from tests.test_service_units import _submission

SAMPLE = sorted((Path(__file__).resolve().parents[1] / "samples").glob("sipantau-blanko-*.jpg"))[0]
PENDING = ("queued", "reading")
_REDIS_DB = itertools.count(1)
HOLD_S = 1.0  # each job is held this long after its claim: time to see it `reading`


class Celeryd:
    """The live service, its admin client, its monitors' TPS and its database."""

    def __init__(self, svc: LiveService, server: RedisServer, broker_url: str) -> None:
        self.svc, self.redis, self.broker_url = svc, server, broker_url
        creds = {u["username"]: u for u in svc.demo_credentials()["users"]}
        self.admin = svc.login("admin", creds["admin"]["password"])
        self.tps = [u["tps"][0] for u in creds.values() if u["role"] == "monitor"]
        self.engine = create_engine(svc.database_url)
        self.sent = 0

    def upload(self) -> int:
        """A photo for the next unused TPS; its submission id (a fresh 201)."""
        tps = self.tps[self.sent]
        self.sent += 1
        r = self.admin.post(
            "/submissions",
            data={"tps": tps, "race": "semua"},
            files={"photo": ("f.jpg", SAMPLE.read_bytes(), "image/jpeg")},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def status(self, sub_id: int) -> str:
        return str(self.admin.get(f"/submissions/{sub_id}").json()["status"])

    def wait_status(self, sub_id: int, wanted: tuple[str, ...], timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        while (status := self.status(sub_id)) not in wanted:
            assert time.monotonic() < deadline, f"{sub_id}: {status}\n{self.svc.log_tail()}"
            time.sleep(0.05)
        return status

    def wait_read(self, ids: list[int], timeout_s: float = 45) -> None:
        deadline = time.monotonic() + timeout_s
        for sub_id in ids:
            left = max(1.0, deadline - time.monotonic())
            status = self.wait_status(sub_id, ("verified", "review", "rejected"), left)
            assert status in ("verified", "review"), (sub_id, status)

    def jobs(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Per submission: its job's state and attempts, its readings and `read` events."""
        with self.engine.connect() as db:
            return {sub_id: job_record(db, sub_id) for sub_id in ids}

    def assert_read_once(self, ids: list[int], attempts: int | None = 1) -> None:
        for sub_id, j in self.jobs(ids).items():
            assert j["state"] == "done" and j["readings"] == 1 and j["reads"] == 1, (sub_id, j)
            if attempts is not None:
                assert j["attempts"] == attempts, (sub_id, j)

    def broker_messages(self) -> int:
        """Messages in the read queue plus delivered, unacknowledged ones (kombu's Redis keys)."""
        client = redis.Redis.from_url(self.broker_url, socket_timeout=5)
        try:
            return int(client.llen(QUEUE)) + int(client.hlen("unacked"))
        finally:
            client.close()

    def wait_consuming(self, timeout_s: float = 60) -> None:
        """Until both celery workers have connected to the broker and said they are ready."""
        deadline = time.monotonic() + timeout_s
        while True:
            pids = self.svc.wait_for_workers(2, timeout_s)
            if all(self._ready(pid) for pid in pids):
                return
            assert time.monotonic() < deadline, self.svc.log_tail()
            time.sleep(0.1)

    def _ready(self, pid: int) -> bool:
        return any(
            f"sipantau-{pid}@" in line and "ready." in line
            for line in self.svc.stderr_log.read_text(errors="replace").splitlines()
        )

    def log_count(self, text: str) -> int:
        return self.svc.stderr_log.read_text(errors="replace").count(text)


@pytest.fixture(scope="module")
def celeryd(
    service_db_url: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Celeryd]:
    """serve --demo with 2 celery workers, a 4 s lease, a sweep every 0.5 s, re-publish at 2 s."""
    broker_url = f"{redis_server.url[:-2]}/{next(_REDIS_DB)}"  # a Redis database a service
    env = {
        "SIPANTAU_JOB_BACKEND": "celery",
        "SIPANTAU_BROKER_URL": broker_url,
        "SIPANTAU_WORKER_HOLD_S": str(HOLD_S),
        "SIPANTAU_JOB_REPUBLISH_S": "2",
        "SIPANTAU_JOB_SWEEP_S": "0.5",
    }
    svc = LiveService(
        tmp_path_factory.mktemp("celery"),
        service_db_url,
        workers=2,
        demo=True,
        samples=False,
        job_lease_s=4,
        env=env,
    )
    with svc:
        celeryd = Celeryd(svc, redis_server, broker_url)
        celeryd.wait_consuming()
        yield celeryd


def test_uploads_are_read_once_through_the_broker(celeryd: Celeryd) -> None:
    ids = [celeryd.upload() for _ in range(6)]
    celeryd.wait_read(ids)
    celeryd.assert_read_once(ids)
    owners = {j["owner"] for j in celeryd.jobs(ids).values()}
    assert len(owners) == 2, owners  # both worker processes took messages
    client = redis.Redis.from_url(celeryd.broker_url)
    assert client.exists(f"_kombu.binding.{QUEUE}")  # the workers consume from the broker
    client.close()


def test_duplicate_messages_do_not_read_twice(celeryd: Celeryd) -> None:
    publisher = publisher_on(celeryd.broker_url)
    sub_id = celeryd.upload()
    celeryd.wait_status(sub_id, ("reading",))
    job_id = celeryd.jobs([sub_id])[sub_id]["job"]
    dropped = f"job {job_id} not claimable"
    assert publisher.publish([job_id] * 3) == 3  # while one worker holds it
    celeryd.wait_read([sub_id])
    assert publisher.publish([job_id] * 2) == 2  # and once it is done
    deadline = time.monotonic() + 20
    while celeryd.log_count(dropped) < 5 or celeryd.broker_messages():
        assert time.monotonic() < deadline, (celeryd.log_count(dropped), celeryd.svc.log_tail())
        time.sleep(0.1)
    celeryd.assert_read_once([sub_id])


def test_worker_killed_mid_job_is_recovered(celeryd: Celeryd) -> None:
    sub_id = celeryd.upload()
    celeryd.wait_status(sub_id, ("reading",))
    owner = celeryd.jobs([sub_id])[sub_id]["owner"]
    victim = int(owner.rsplit(":", 1)[1])
    assert victim in celeryd.svc.worker_pids()
    os.kill(victim, signal.SIGKILL)
    celeryd.wait_read([sub_id])
    celeryd.assert_read_once([sub_id], attempts=2)
    assert victim not in celeryd.svc.worker_pids()  # serve restarted it
    celeryd.wait_consuming()


def test_broker_crash_loses_no_job(celeryd: Celeryd) -> None:
    before = [celeryd.upload() for _ in range(2)]
    celeryd.redis.kill()  # every message it held is gone
    t0 = time.monotonic()
    during = [celeryd.upload() for _ in range(3)]  # acknowledged: stored, published later
    assert time.monotonic() - t0 < 20
    holds_for(  # no broker, no reading
        lambda: {celeryd.status(i) for i in during} == {"queued"}, 1.5, "uploads wait unread"
    )
    celeryd.redis.start()  # empty
    celeryd.wait_read(before + during, timeout_s=60)
    celeryd.assert_read_once(before + during, attempts=None)
    assert all(j["attempts"] <= 2 for j in celeryd.jobs(before + during).values())


def publisher_on(broker_url: str) -> Publisher:
    from sipantau.api.infra.celery_app import make_app

    return Publisher(make_app(ServiceSettings(broker_url=broker_url, job_backend="celery")))


def test_publishing_with_no_broker_never_raises() -> None:
    from tests.pg import free_port

    publisher = publisher_on(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    t0 = time.monotonic()
    assert publisher.publish([1, 2]) == 0
    assert publisher.publish([3]) == 0  # the breaker is open: not even tried
    assert publisher.publish([3], force=True) == 0
    assert time.monotonic() - t0 < 15
    assert publisher.depth() is None


def test_a_message_claims_its_job_only_while_it_is_claimable(sessions) -> None:  # noqa: F811
    a, b = _submission(sessions, 2)  # in a fresh database, job ids follow submission ids
    with transaction(sessions) as s:
        first = jobs.claim_by_id(s, a, "w1", lease_s=60, max_attempts=2)
        assert first is not None and first.submission_id == a and first.attempt == 1
    with transaction(sessions) as s:
        assert jobs.claim_by_id(s, a, "w2", lease_s=60, max_attempts=2) is None  # held
        assert jobs.finish(s, first)
    with transaction(sessions) as s:
        assert jobs.claim_by_id(s, a, "w2", lease_s=60, max_attempts=2) is None  # done
        assert jobs.claim_by_id(s, 999, "w2", lease_s=60, max_attempts=2) is None  # no such job
        dead = jobs.claim_by_id(s, b, "w1", lease_s=0.05, max_attempts=2)
    time.sleep(0.1)
    with transaction(sessions) as s:
        again = jobs.claim_by_id(s, b, "w2", lease_s=0.05, max_attempts=2)
        assert dead is not None and again is not None and again.attempt == 2
        assert not jobs.finish(s, dead)  # the first worker's late result is dropped
    time.sleep(0.1)
    with transaction(sessions) as s:
        assert jobs.claim_by_id(s, b, "w3", lease_s=60, max_attempts=2) is None  # spent


def test_the_sweeper_takes_each_lost_job_once(sessions) -> None:  # noqa: F811
    a, b, c = _submission(sessions, 3)  # job ids = submission ids, as above
    with transaction(sessions) as s:
        assert jobs.pending(s) == 3
        assert jobs.due(s, republish_s=60) == []  # just published
        assert jobs.claim_by_id(s, a, "w1", lease_s=0.05, max_attempts=3) is not None
        held = jobs.claim_by_id(s, b, "w1", lease_s=60, max_attempts=3)
    time.sleep(0.1)
    with transaction(sessions) as s:
        assert jobs.pending(s) == 2  # b held, c queued; a's worker vanished
        assert jobs.requeue_expired(s, max_attempts=3, republish_s=60) == [a]
        assert jobs.requeue_expired(s, max_attempts=3, republish_s=60) == []
        assert jobs.due(s, republish_s=0.05) == [c]  # a was just published again
        assert jobs.due(s, republish_s=0.05) == []  # once, whoever else sweeps
        assert jobs.pending(s) == 3
    with transaction(sessions) as s:
        again = jobs.claim_by_id(s, a, "w2", lease_s=60, max_attempts=3)
        assert again is not None and again.attempt == 2
        assert held is not None and jobs.finish(s, held)
        assert s.scalar(select(Job.state).where(Job.id == c)) == "queued"


DIE_HOLDING_A_MESSAGE = """
import os, signal, sys
from kombu import Connection
with Connection(sys.argv[1]) as conn:
    message = conn.default_channel.basic_get(sys.argv[2], no_ack=False)
    print(message is not None, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_message_held_by_a_dead_worker_does_not_hide_its_job(
    redis_server: RedisServer,
    sessions,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A worker killed after taking a message but before claiming its job: the message stays
    unacknowledged for the broker's hour; the sweeper publishes the waiting job again."""
    import subprocess
    import sys

    from sipantau.api.infra.context import Context
    from sipantau.api.infra.dispatch import sweep

    broker_url = f"{redis_server.url[:-2]}/{next(_REDIS_DB)}"
    publisher = publisher_on(broker_url)
    (job_id,) = _submission(sessions, 1)
    assert publisher.publish([job_id]) == 1
    died = subprocess.run(
        [sys.executable, "-c", DIE_HOLDING_A_MESSAGE, broker_url, QUEUE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert died.returncode == -signal.SIGKILL and died.stdout.strip() == "True", died
    assert publisher.depth() == 1 and publisher.depth(live_s=60) == 1  # unacked, held
    time.sleep(0.3)
    assert publisher.depth(live_s=0.2) == 0  # older than a lease: its worker is gone
    settings = ServiceSettings(
        broker_url=broker_url,
        job_backend="celery",
        job_lease_s=0.2,
        job_republish_s=0.05,
        data_dir=tmp_path,
    )
    ctx = Context(settings, sessions, sessions, store=None)  # type: ignore[arg-type]
    assert sweep(ctx, publisher, reap=lambda: None)["overdue"] == 1
    client = redis.Redis.from_url(broker_url, socket_timeout=5)
    try:
        assert client.llen(QUEUE) == 1  # published again, for a live worker to take
    finally:
        client.close()
