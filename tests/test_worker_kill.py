"""A worker killed with SIGKILL in the middle of a job: the job completes later, exactly once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.service import LiveService, job_record

SAMPLE = sorted((Path(__file__).resolve().parents[1] / "samples").glob("sipantau-blanko-*.jpg"))[0]


def test_killed_worker_job_is_read_once(
    service_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    svc = LiveService(
        tmp_path_factory.mktemp("kill"),
        service_db_url,
        workers=1,
        demo=True,
        samples=False,
        job_lease_s=3,
        env={"SIPANTAU_WORKER_HOLD_S": "2"},  # each job is held 2 s after it is claimed
    )
    with svc:
        (victim,) = svc.wait_for_workers(1)
        creds = {u["username"]: u for u in svc.demo_credentials()["users"]}
        admin = svc.login("admin", creds["admin"]["password"])
        tps = next(u["tps"][0] for u in creds.values() if u["role"] == "monitor")
        r = admin.post(
            "/submissions",
            data={"tps": tps, "race": "semua"},
            files={"photo": ("f.jpg", SAMPLE.read_bytes(), "image/jpeg")},
        )
        assert r.status_code == 201, r.text
        sub_id = r.json()["id"]
        deadline = time.monotonic() + 30
        while admin.get(f"/submissions/{sub_id}").json()["status"] != "reading":
            assert time.monotonic() < deadline, "the worker never took the job"
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)

        deadline = time.monotonic() + 60
        while (view := admin.get(f"/submissions/{sub_id}?wait=5").json())["status"] in (
            "queued",
            "reading",
        ):
            assert time.monotonic() < deadline, svc.log_tail()
        assert view["status"] in ("verified", "review")
        assert svc.worker_pids() and victim not in svc.worker_pids()  # restarted

        engine = create_engine(svc.database_url)
        with engine.connect() as db:
            record = job_record(db, sub_id)
        engine.dispose()
        assert (record["state"], record["attempts"]) == ("done", 2)
        assert record["readings"] == 1 and record["reads"] == 1
