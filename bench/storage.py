"""Photo store latency: put/get medians for a phone-sized photo, local folder and S3.

Starts moto's S3 server on loopback (or uses `--endpoint-url`, e.g. a MinIO), then for each
store: `--count` puts of distinct photos (new objects), the same puts again (already there:
idempotent, no upload) and gets (hash-checked). Run `python -m sipantau.bench.storage`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sipantau.api.infra.storage import LocalPhotoStore, PhotoStore
from sipantau.api.infra.storage_s3 import S3PhotoStore
from sipantau.bench.s3_server import S3Server

T = TypeVar("T")


def timed(fn: Callable[[T], object], items: list[T]) -> list[float]:
    """Milliseconds of `fn(item)` for each item, one after another."""
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1000)
    return out


def bench(store: PhotoStore, photos: list[bytes]) -> dict[str, list[float]]:
    store.check()
    shas: list[str] = []
    put_new = timed(lambda p: shas.append(store.put(p)), photos)
    put_again = timed(store.put, photos)
    get = timed(store.get, shas)
    return {"put (new)": put_new, "put (again)": put_again, "get": get}


def report(name: str, results: dict[str, list[float]]) -> None:
    for what, ms in results.items():
        q = statistics.quantiles(ms, n=20)
        print(f"{name:<6} {what:<12} median {statistics.median(ms):7.2f} ms  p95 {q[-1]:7.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--size", type=int, default=350_000, help="photo size in bytes")
    ap.add_argument("--endpoint-url", help="an S3-compatible store (default: start moto)")
    ap.add_argument("--bucket", default="sipantau-bench")
    args = ap.parse_args()
    photos = [os.urandom(args.size) for _ in range(args.count)]
    print(f"{args.count} photos of {args.size} bytes; medians over one-at-a-time calls")
    with tempfile.TemporaryDirectory() as tmp:
        report("local", bench(LocalPhotoStore(Path(tmp) / "photos", Path(tmp) / "d"), photos))
    if args.endpoint_url:
        report("s3", bench(S3PhotoStore(args.bucket, endpoint_url=args.endpoint_url), photos))
        return
    with tempfile.TemporaryDirectory() as tmp, S3Server(Path(tmp)) as moto:
        report("s3", bench(moto.store(args.bucket), photos))


if __name__ == "__main__":
    main()
