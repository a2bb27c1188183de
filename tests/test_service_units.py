"""The service's parts without HTTP: the job queue, tokens, the photo store, rules, hashes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from sipantau.api.domain.auth import login, principal_for_token
from sipantau.api.domain.errors import TooManyAttempts, Unauthenticated
from sipantau.api.domain.rules import problems, race_fields
from sipantau.api.infra import jobs
from sipantau.api.infra.db import migrate, transaction
from sipantau.api.infra.models import (
    AuthSession,
    Job,
    Submission,
    User,
    utcnow,
)
from sipantau.api.infra.settings import ServiceSettings
from sipantau.api.infra.storage import LocalPhotoStore, sha256_of
from sipantau.ocr.fingerprint import bands, distance, phash_bytes
from sipantau.templates.registry import get_template
from tests.polling import wait_for


def _submission(factory, n: int = 1) -> list[int]:
    ids = []
    with transaction(factory) as s:
        uid = s.scalar(select(User.id))
        for i in range(n):
            sub = Submission(
                tps_code="1673011001-001",
                race="walikota",
                photo_sha="abc"[i] * 64,
                submitted_by=uid,
                flags=[],
                client_id=str(i),
            )
            s.add(sub)
            s.flush()
            jobs.enqueue(s, sub.id)
            ids.append(sub.id)
    return ids


def test_a_job_is_claimed_by_one_worker_and_finished_once(sessions) -> None:
    _submission(sessions)
    with transaction(sessions) as s:
        first = jobs.claim(s, "w1", lease_s=60, max_attempts=3)
    with transaction(sessions) as s:
        assert jobs.claim(s, "w2", lease_s=60, max_attempts=3) is None  # held by w1
    assert first is not None
    with transaction(sessions) as s:
        assert jobs.finish(s, first)
    with transaction(sessions) as s:
        assert not jobs.finish(s, first)  # a second finish changes nothing
        assert s.scalar(select(Job.state)) == "done"


def test_a_dead_workers_job_is_taken_again_and_its_late_result_dropped(sessions) -> None:
    _submission(sessions)
    with transaction(sessions) as s:
        dead = jobs.claim(s, "w1", lease_s=0.2, max_attempts=3)
    assert dead is not None

    def claim_again() -> jobs.Claim | None:
        with transaction(sessions) as s:
            return jobs.claim(s, "w2", lease_s=60, max_attempts=3)

    again = wait_for(claim_again, 10, "the job free again once w1's lease ran out")
    assert again.job_id == dead.job_id and again.attempt == 2
    with transaction(sessions) as s:
        assert not jobs.finish(s, dead)  # w1 wakes up late: its result is not counted
    with transaction(sessions) as s:
        assert jobs.finish(s, again)


def test_a_job_that_kills_every_worker_stops_being_retried(sessions) -> None:
    _submission(sessions)

    def claim() -> jobs.Claim | None:
        with transaction(sessions) as s:
            return jobs.claim(s, "w", lease_s=0.05, max_attempts=2)

    def abandoned() -> list[Job]:
        with transaction(sessions) as s:
            return jobs.abandoned(s, max_attempts=2)

    assert claim() is not None
    wait_for(claim, 10, "a second attempt once the first lease ran out")
    assert len(wait_for(abandoned, 10, "the second lease run out too")) == 1
    assert claim() is None  # two attempts died: not tried a third time


def test_jobs_are_claimed_oldest_first(sessions) -> None:
    ids = _submission(sessions, 3)
    got = []
    for _ in ids:
        with transaction(sessions) as s:
            c = jobs.claim(s, "w", lease_s=60, max_attempts=3)
            assert c is not None
            got.append(c.submission_id)
    assert got == ids


def test_tokens_expire_and_failed_logins_are_throttled(sessions) -> None:
    settings = ServiceSettings(login_max_failures_user=3)
    token, _, _ = login(sessions, settings, "ani", "rahasia-ani", "10.0.0.1")
    with sessions() as s:
        assert principal_for_token(s, token) is not None
        assert principal_for_token(s, token + "x") is None
    with transaction(sessions) as s:
        row = s.scalar(select(AuthSession))
        row.expires_at = utcnow() - timedelta(seconds=1)
    with sessions() as s:
        assert principal_for_token(s, token) is None
    for _ in range(3):
        with pytest.raises(Unauthenticated) as err:
            login(sessions, settings, "ani", "salah", "10.0.0.1")
        assert err.value.code == "login_failed"
    with pytest.raises(TooManyAttempts) as err:
        login(sessions, settings, "ani", "rahasia-ani", "10.0.0.1")  # right, but too late
    assert err.value.retry_after and err.value.retry_after > 0
    with sessions() as s:
        stored = s.scalar(select(func.count()).select_from(AuthSession))
        assert stored == 1 and s.scalar(select(AuthSession.token_hash)) != token


def test_photo_store_is_content_addressed_and_checks_what_it_reads(tmp_path: Path) -> None:
    store = LocalPhotoStore(tmp_path)
    digest = store.put(b"foto")
    assert digest == sha256_of(b"foto") and store.put(b"foto") == digest
    assert store.get(digest) == b"foto"
    store.path(digest).write_bytes(b"rusak")
    with pytest.raises(OSError):
        store.get(digest)
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
    assert not list(tmp_path.rglob(".tmp-*"))


def test_desk_rules_catch_a_total_above_the_tps_dpt() -> None:
    t = get_template("sipantau-blanko")
    rf = race_fields(t, "gubernur", "gub", 3)
    assert rf is not None
    ok = {"gub_paslon_1": 100, "gub_paslon_2": 50, "gub_paslon_3": 40, "gub_suara_sah": 190}
    ok |= {"gub_suara_tidak_sah": 10, "gub_total_suara": 200, "gub_pemilih": 200}
    names = {f.name for f in t.fields if f.name.startswith("gub_")}
    assert set(ok) == names
    full = {f.name: ok.get(f.name, 0) for f in t.fields}
    assert [p for p in problems(t, full, 400, [rf]) if "R7" in p] == []
    over = dict(full, gub_total_suara=800, gub_pemilih=800, gub_paslon_1=700, gub_suara_sah=790)
    assert any("R7" in p and "410" in p for p in problems(t, over, 400, [rf]))
    kwk = get_template("c-hasil-kwk-walikota")
    krf = race_fields(kwk, "walikota", "wako", 3)
    assert krf is not None and krf.dpt == "dpt_jml"
    assert any("DPT pada formulir" in p for p in problems(kwk, {"dpt_jml": 512}, 400, [krf]))


def test_perceptual_hash_matches_a_resent_photo_not_another_form() -> None:
    root = Path(__file__).resolve().parents[1] / "samples"
    a, b = sorted(root.glob("sipantau-blanko-*.jpg"))[:2]
    img = cv2.imread(str(a))
    small = cv2.resize(img, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    resent = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 55])[1].tobytes()
    ha, hb, hr = (phash_bytes(p) for p in (a.read_bytes(), b.read_bytes(), resent))
    assert ha is not None and hb is not None and hr is not None
    assert distance(ha, hr) <= 3 and distance(ha, hb) > 12
    assert any(x == y for x, y in zip(bands(ha), bands(hr), strict=True))
    assert phash_bytes(b"bukan foto") is None
    assert phash_bytes(np.zeros(10, np.uint8).tobytes()) is None


def test_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from sipantau.api.infra.db import make_engine
    from sipantau.api.infra.models import Base

    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], diff


class _DownStore:
    """A photo store that cannot be reached, as S3 during an outage."""

    def get(self, sha256: str) -> bytes:
        from sipantau.api.infra.storage import StoreUnavailable

        raise StoreUnavailable("connect timeout")


def test_a_store_outage_hands_the_job_back_uncounted(sessions, db_url: str, tmp_path: Path):
    from sipantau.api.infra.context import Context
    from sipantau.api.infra.worker import Worker

    (sub_id,) = _submission(sessions)
    ctx = Context.create(ServiceSettings(data_dir=tmp_path, database_url=db_url))
    ctx.store = _DownStore()  # type: ignore[assignment]
    worker = Worker(ctx, name="w1")
    worker._reader = object()  # type: ignore[assignment]  # never reached: the photo is not
    with pytest.raises(jobs.Unavailable):
        worker.run_once()
    with transaction(sessions) as s:
        job = s.scalar(select(Job))
        assert (job.state, job.attempts, job.owner) == ("queued", 0, None)
        sub = s.get(Submission, sub_id)
        assert (sub.status, sub.flags) == ("queued", [])  # waiting again, not sent to a person
    with transaction(sessions) as s:
        again = jobs.claim(s, "w2", lease_s=60, max_attempts=3)
    assert again is not None and again.attempt == 1  # the outage cost no attempt
