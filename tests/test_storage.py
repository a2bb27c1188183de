"""The photo store's contract, on a local folder and on a real S3 server (moto, loopback).

The same tests run on both kinds; then S3-only faults (a body damaged in transit, a store
that is down or hangs), and the service end to end with its photos in S3.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from sipantau.api.infra.context import make_store
from sipantau.api.infra.settings import ServiceSettings
from sipantau.api.infra.storage import (
    LocalPhotoStore,
    PhotoDamaged,
    PhotoMissing,
    PhotoStore,
    StoreUnavailable,
    sha256_of,
)
from sipantau.api.infra.storage_s3 import S3PhotoStore
from sipantau.api.web.errors import status_of
from tests.pg import free_port
from tests.s3 import S3Server

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
_BUCKETS = itertools.count(1)
KEYS = {"access_key": "kunci", "secret_key": "rahasia"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("moto"))
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(f"the S3 test server would not start: {e}", pytrace=False)
    yield server
    server.stop()


def _bucket() -> str:
    return f"test-{next(_BUCKETS):04d}"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PhotoStore:
    if request.param == "local":
        return LocalPhotoStore(tmp_path / "photos", tmp_path / "derived")
    return request.getfixturevalue("s3").store(_bucket())


def _overwrite(store: PhotoStore, sha: str, data: bytes, s3: S3Server | None) -> None:
    """Change a stored original behind the store's back (a disk or bucket gone bad)."""
    if isinstance(store, LocalPhotoStore):
        store.path(sha).write_bytes(data)
    else:
        assert isinstance(store, S3PhotoStore) and s3 is not None
        s3.client().put_object(Bucket=store.bucket, Key=store.key(sha), Body=data)


def _count_puts(store: S3PhotoStore) -> list[str]:
    """Record every PutObject request the store's client sends (keys, in order)."""
    sent: list[str] = []

    def seen(request: Any, **_: Any) -> None:
        sent.append(request.url.rsplit("/", 1)[-1])

    store.client.meta.events.register("before-send.s3.PutObject", seen)
    return sent


# --- The contract, on both kinds ---


def test_round_trip_of_originals_and_derived_images(store: PhotoStore) -> None:
    photo = np.random.default_rng(1).bytes(350_000)
    sha = store.put(photo)
    assert sha == sha256_of(photo) and store.exists(sha) and store.get(sha) == photo
    assert not store.exists(sha256_of(b"lain"))
    store.put_derived("7-page.jpg", b"halaman 1")
    store.put_derived("7-page.jpg", b"halaman 2")  # read again: the newer page replaces it
    assert store.get_derived("7-page.jpg") == b"halaman 2"


def test_put_is_idempotent(store: PhotoStore) -> None:
    photo = b"foto yang sama" * 1000
    if isinstance(store, S3PhotoStore):
        puts = _count_puts(store)
        assert store.put(photo) == store.put(photo) == sha256_of(photo)
        assert puts == [sha256_of(photo)]  # the second put found it and sent nothing
    else:
        assert isinstance(store, LocalPhotoStore)
        sha = store.put(photo)
        before = store.path(sha).stat().st_mtime_ns
        assert store.put(photo) == sha and store.path(sha).stat().st_mtime_ns == before
        assert not list(store.root.rglob(".tmp-*"))


def test_a_damaged_object_is_never_returned(
    store: PhotoStore, request: pytest.FixtureRequest
) -> None:
    photo = b"asli" * 2000
    sha = store.put(photo)
    s3 = request.getfixturevalue("s3") if isinstance(store, S3PhotoStore) else None
    _overwrite(store, sha, b"RUSAK" + photo[5:], s3)  # same size, other bytes
    with pytest.raises(PhotoDamaged) as err:
        store.get(sha)
    assert err.value.code == "photo_damaged" and isinstance(err.value, OSError)
    if isinstance(store, S3PhotoStore):  # the same size, but the ETag tells: put heals it
        store.put(photo)
        assert store.get(sha) == photo


def test_missing_objects_and_bad_names(store: PhotoStore) -> None:
    store.put(b"ada")  # the store is in use (an S3 bucket that is not there is unavailable)
    with pytest.raises(PhotoMissing) as err:
        store.get(sha256_of(b"tidak pernah dikirim"))
    assert status_of(err.value) == 404 and err.value.code == "not_found"
    with pytest.raises(PhotoMissing):
        store.get_derived("999-page.jpg")
    for bad in ("../../etc/passwd", "AB" * 32, ""):
        with pytest.raises(ValueError):
            store.get(bad)
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            store.put_derived(bad, b"x")


def test_check_passes_on_a_working_store(store: PhotoStore) -> None:
    store.check()
    store.check()


# --- Readiness failures, unreachable and hanging stores ---


def test_local_check_names_a_folder_that_cannot_be_written(tmp_path: Path) -> None:
    store = LocalPhotoStore(tmp_path / "photos", tmp_path / "derived")
    (tmp_path / "derived").write_bytes(b"a file where the folder should be")
    with pytest.raises(StoreUnavailable) as err:
        store.check()
    assert status_of(err.value) == 503 and "derived" in err.value.detail


def test_s3_bucket_is_made_on_first_use(s3: S3Server) -> None:
    bucket = _bucket()
    s3.store(bucket).check()
    s3.client().head_bucket(Bucket=bucket)
    other = s3.store(_bucket())
    sha = other.put(b"pertama")
    assert s3.client().get_object(Bucket=other.bucket, Key=other.key(sha))["Body"].read()


def test_s3_refuses_a_body_damaged_in_transit(s3: S3Server) -> None:
    store = s3.store(_bucket())

    def flip_first_byte(request: Any, **_: Any) -> None:
        body = request.body.getvalue() if hasattr(request.body, "getvalue") else request.body
        request.body = bytes([body[0] ^ 0xFF]) + body[1:]

    store.client.meta.events.register("before-send.s3.PutObject", flip_first_byte)
    photo = b"dikirim lewat jaringan buruk" * 500
    with pytest.raises(PhotoDamaged):
        store.put(photo)
    store.client.meta.events.unregister("before-send.s3.PutObject", flip_first_byte)
    assert store.put(photo) == sha256_of(photo) and store.get(sha256_of(photo)) == photo


def test_s3_down_is_a_clear_error_in_seconds() -> None:
    store = S3PhotoStore("any", endpoint_url=f"http://127.0.0.1:{free_port()}", **KEYS)
    for action in (store.check, lambda: store.put(b"x"), lambda: store.get(sha256_of(b"x"))):
        start = time.monotonic()
        with pytest.raises(StoreUnavailable) as err:
            action()
        assert time.monotonic() - start < 10
        assert status_of(err.value) == 503 and err.value.code == "store_unavailable"
        assert "127.0.0.1" in err.value.detail


def test_s3_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections, never answers a request
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        store = S3PhotoStore("any", endpoint_url=url, read_timeout=1.0, max_attempts=2, **KEYS)
        start = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get(sha256_of(b"x"))
        assert time.monotonic() - start < 8


def test_settings_choose_the_store(tmp_path: Path, s3: S3Server) -> None:
    local = make_store(ServiceSettings(data_dir=tmp_path))
    assert isinstance(local, LocalPhotoStore) and local.derived == tmp_path / "derived"
    env = s3.env("dipilih")
    kwargs = {k.removeprefix("SIPANTAU_").lower(): v for k, v in env.items()}
    remote = make_store(ServiceSettings(data_dir=tmp_path, **kwargs))
    assert isinstance(remote, S3PhotoStore) and remote.bucket == "dipilih"
    remote.check()


# --- The service, end to end, with its photos in S3 ---


def test_service_reads_from_s3_and_serves_page_and_crops(tmp_path: Path) -> None:
    from tests.service import LiveService

    truth = json.loads((SAMPLES / "truth.json").read_text(encoding="utf-8"))["photos"]
    item, spare = [p for p in truth if p["template"] == "sipantau-blanko"][:2]
    photo = (SAMPLES / item["photo"]).read_bytes()
    with S3Server(tmp_path / "moto") as s3:
        env = s3.env("sipantau-e2e")
        db = f"sqlite:///{tmp_path / 'db.sqlite'}"
        with LiveService(tmp_path, db, demo=True, samples=False, env=env) as live:
            user = next(u for u in live.demo_credentials()["users"] if item["tps"] in u["tps"])
            monitor = live.login(user["username"], user["password"])
            files = {"photo": ("form.jpg", photo, "image/jpeg")}
            form = {"tps": item["tps"], "race": "semua"}
            r = monitor.post("/submissions", params={"wait": 20}, data=form, files=files)
            assert r.status_code == 201, r.text
            sub = r.json()
            assert sub["status"] in ("verified", "review"), sub
            _check_served(monitor, sub, photo)
            _check_bucket(s3, "sipantau-e2e", sub, monitor)
            assert not [p for p in live.data_dir.rglob("*") if p.parent.name == "derived"]
            s3.stop()  # the store goes down: an upload is refused at once, nothing half-stored
            start = time.monotonic()
            other = (SAMPLES / spare["photo"]).read_bytes()  # a new photo for the same TPS
            files = {"photo": ("form.jpg", other, "image/jpeg")}
            r = monitor.post("/submissions", data=form, files=files)
            assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
            assert r.headers["retry-after"] == "10"  # the phone keeps the photo and retries
            assert time.monotonic() - start < 10
            assert len(monitor.get("/submissions").json()["items"]) == 1


def _check_served(monitor: Any, sub: dict[str, Any], photo: bytes) -> None:
    """The original, the aligned page and a field crop come back from the API."""
    assert monitor.get(f"/submissions/{sub['id']}/photo").content == photo
    page = monitor.get(f"/submissions/{sub['id']}/page.jpg")
    assert page.status_code == 200 and page.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(page.content, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None and image.shape[0] > 1000
    name = next(n for n, f in sub["fields"].items() if f.get("box"))
    crop = monitor.get(f"/submissions/{sub['id']}/fields/{name}.png")
    assert crop.status_code == 200 and crop.content[:4] == b"\x89PNG"
    missing = monitor.get(f"/submissions/{sub['id']}/fields/tidak_ada.png")
    assert missing.status_code == 404


def _check_bucket(s3: S3Server, bucket: str, sub: dict[str, Any], monitor: Any) -> None:
    """The photo and the page the API served are the objects in the bucket."""
    keys = {o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]}
    sha = sub["photo_sha256"]
    assert f"photos/{sha[:2]}/{sha[2:4]}/{sha}" in keys
    key = f"derived/{sub['id']}-page.jpg"
    stored = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert stored == monitor.get(f"/submissions/{sub['id']}/page.jpg").content
