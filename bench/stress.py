"""`sipantau bench stress`: bursts of uploads against real servers while they are hurt.

One stack (PostgreSQL, Redis for Celery, the API, N workers) runs a batch of uploads per
scenario: a plain burst, a worker SIGKILLed mid-job, Redis restarted, PostgreSQL restarted,
the API killed and restarted mid-upload. Clients retry like the monitor page (same bytes, same
client_id). After each batch the invariants are checked against the database and the store.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sipantau.bench import photoset
from sipantau.bench.stack import Stack
from sipantau.bench.stress_check import check_batch

FAULTS = ("kill-worker", "restart-redis", "restart-postgres", "restart-api")
SCENARIOS = ("burst", *FAULTS, "all")  # all: every fault, one after another, in one batch


@dataclass
class Sent:
    """One upload as its client saw it."""

    tps: str
    race: str
    sha: str
    acked: bool = False
    sub_id: int | None = None
    ack_s: float | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


def variant(jpeg: bytes, n: int) -> bytes:
    """The same picture with other bytes (a JPEG comment after SOI), as a resent photo."""
    note = f"sipantau-stress-{n}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + jpeg[2:]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--uploads", type=int, default=5000, help="uploads per scenario (5000)")
    p.add_argument("--clients", type=int, default=200, help="concurrent clients (200)")
    p.add_argument("--workers", type=int, default=2, help="reading worker processes (2)")
    p.add_argument("--backend", choices=["celery", "db"], default="celery")
    p.add_argument("--job-lease", type=float, default=30.0, help="job lease, s (30)")
    p.add_argument("--slots", type=int, default=656, help="distinct TPS x race photos (656)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--photo-cache", type=Path, default=photoset.CACHE)
    p.add_argument("--timeout", type=float, default=1800.0, help="per scenario, seconds")
    p.add_argument("--out", type=Path, default=Path("out/bench-stress.json"))


def send(client: httpx.Client, s: Sent, data: bytes, token: str, deadline: float) -> Sent:
    """POST until acknowledged (2xx) or refused (4xx), retrying errors and 5xx with back-off."""
    form = {"tps": s.tps, "race": s.race, "client_id": s.sha[:32]}
    t0 = time.perf_counter()
    while time.monotonic() < deadline:
        s.attempts += 1
        try:
            r = client.post(
                "/api/v1/submissions",
                data=form,
                files={"photo": ("foto.jpg", data, "image/jpeg")},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            s.errors.append(type(exc).__name__)
        else:
            if r.status_code in (200, 201):
                s.acked, s.sub_id = True, int(r.json()["id"])
                s.ack_s = time.perf_counter() - t0
                return s
            s.errors.append(str(r.status_code))
            if 400 <= r.status_code < 500 and r.status_code != 429:
                return s
        time.sleep(min(2.0, 0.2 * s.attempts))
    return s


def _fault(stack: Stack, name: str) -> Callable[[], None]:
    return {
        "kill-worker": lambda: stack.kill_worker(0),
        "restart-redis": lambda: stack.redis.restart(down_s=2.0) if stack.redis else None,
        "restart-postgres": lambda: stack.pg.restart(down_s=2.0) if stack.pg else None,
        "restart-api": lambda: stack.restart_api(down_s=1.0),
    }[name]


def _schedule(name: str, uploads: int) -> list[tuple[int, str]]:
    """(after how many answered uploads, which fault): a third of the way in, or for `all`
    each fault in turn from 15 % to 60 %."""
    if name == "burst":
        return []
    if name == "all":
        return [(max(1, uploads * (15 + 15 * i) // 100), f) for i, f in enumerate(FAULTS)]
    return [(max(1, uploads // 3), name)]


def run_batch(
    stack: Stack, name: str, photos: list[tuple[str, str, bytes]], args: argparse.Namespace
) -> dict[str, Any]:
    """Upload every photo from `args.clients` clients, hurting the stack on `_schedule`."""
    token = stack.admin_token()
    deadline = time.monotonic() + args.timeout
    items = [Sent(tps, race, hashlib.sha256(data).hexdigest()) for tps, race, data in photos]
    data = {s.sha: d for s, (_, _, d) in zip(items, photos, strict=True)}
    local = threading.local()
    done = threading.Semaphore(0)
    faults: dict[str, float] = {}

    def one(s: Sent) -> Sent:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=stack.base, timeout=60.0)
        out = send(local.client, s, data[s.sha], token, deadline)
        done.release()
        return out

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        futures = [pool.submit(one, s) for s in items]
        answered = 0
        for after, fault in _schedule(name, len(items)):
            while answered < after:
                done.acquire()
                answered += 1
            faults[fault] = round(time.monotonic() - t0, 2)
            _fault(stack, fault)()
        sent = [f.result() for f in futures]
    acked_s = time.monotonic() - t0
    result = check_batch(stack, sent, t0_wall=time.time() - acked_s, deadline=deadline)
    acks = [s.ack_s for s in sent if s.ack_s is not None]
    result.update(
        scenario=name,
        uploads=len(sent),
        clients=args.clients,
        acked=sum(s.acked for s in sent),
        refused=[asdict(s) for s in sent if not s.acked][:5],
        retried=sum(s.attempts > 1 for s in sent),
        faults_at_s=faults,
        all_acked_s=round(acked_s, 2),
        ack_p50_s=round(statistics.median(acks), 3) if acks else None,
        ack_p95_s=round(statistics.quantiles(acks, n=20)[-1], 3) if len(acks) > 1 else None,
        restarts=dict(stack.restarts),
    )
    return result


def _photos(args: argparse.Namespace) -> list[tuple[str, str, bytes]]:
    ps = photoset.build(args.seed, args.slots, root=args.photo_cache)
    print(photoset.describe(ps), flush=True)
    return [(p["tps"], p["race"], ps.path(p).read_bytes()) for p in ps.photos]


def run(args: argparse.Namespace) -> int:
    base = _photos(args)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; choose from {SCENARIOS}")
    results = []
    with tempfile.TemporaryDirectory(prefix="sipantau-stress-") as tmp:
        stack = Stack(Path(tmp), args.backend, args.workers, args.job_lease)
        try:
            stack.start()
            for b, name in enumerate(names):
                batch = [
                    (tps, race, variant(jpeg, b * args.uploads + i))
                    for i, (tps, race, jpeg) in (
                        (i, base[i % len(base)]) for i in range(args.uploads)
                    )
                ]
                print(f"{name}: {len(batch)} uploads from {args.clients} clients", flush=True)
                result = run_batch(stack, name, batch, args)
                results.append(result)
                print(report_line(result), flush=True)
        finally:
            stack.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"backend": args.backend, "workers": args.workers, "results": results}
    args.out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    ok = all(r["ok"] for r in results)
    print(f"{'ALL INVARIANTS HOLD' if ok else 'INVARIANT BROKEN'}; details in {args.out}")
    return 0 if ok else 1


def report_line(r: dict[str, Any]) -> str:
    return (
        f"  acked {r['acked']}/{r['uploads']} (retried {r['retried']}), lost {r['lost']}, "
        f"read twice {r['read_twice']}, unread {r['unread']}, totals match {r['totals_match']}; "
        f"ack p50/p95 {r['ack_p50_s']}/{r['ack_p95_s']} s, all acked {r['all_acked_s']} s, "
        f"all read {r['all_read_s']} s ({r['read_per_min']}/min); faults at {r['faults_at_s']} s; "
        f"restarts {r['restarts']}; jobs retried {r['jobs_retried']}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sipantau bench stress", description=__doc__)
    add_arguments(p)
    return run(p.parse_args(argv))
