"""`sipantau bench service`: the service under a burst of uploads, and its reading throughput.

Starts the real service (`sipantau serve --demo --no-samples`) on loopback with a fresh data
folder (and, with `--database-url`, a fresh PostgreSQL database), then
A. burst: every (TPS, race) photo of the demo election from `--clients` concurrent monitors,
   each upload as the TPS's own monitor; time to acknowledge, a re-send of 5 % (must answer 200
   with the same id), time until every photo is read; none lost, none counted twice;
B. throughput: for each `--workers` count a fresh server, `--throughput-count` photos sent at
   once, photos read a minute.
Run as `sipantau bench service` or `python -m sipantau.bench.service`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sipantau.bench import photoset, procs

HOST = "127.0.0.1"
API = "/api/v1"
PENDING = ("queued", "reading")
READ_EVENTS = ("read", "rejected", "read_failed")


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, help="burst: only the first N (TPS, race) pairs (all)")
    p.add_argument("--clients", type=int, default=50, help="concurrent uploading clients (50)")
    p.add_argument("--burst-workers", type=int, default=2, help="reading workers in the burst (2)")
    p.add_argument(
        "--workers", type=_ints, default=[1, 2], help="worker counts of the throughput runs (1,2)"
    )
    p.add_argument("--throughput-count", type=int, default=120, help="photos a run (120)")
    p.add_argument("--resend", type=float, default=0.05, help="share of uploads sent again (0.05)")
    p.add_argument("--phases", default="burst,throughput", help="which phases (burst,throughput)")
    p.add_argument("--seed", type=int, default=20261123, help="the photo set's seed (20261123)")
    p.add_argument(
        "--photo-cache", type=Path, default=photoset.CACHE, help="photo cache (.data/bench-photos)"
    )
    p.add_argument("--database-url", help="PostgreSQL server URL: a fresh database each run")
    p.add_argument("--timeout", type=float, default=3600.0, help="max s to wait for reading (3600)")
    p.add_argument("--out", type=Path, default=Path("out/bench-service.json"), help="JSON")
    p.add_argument("--keep", action="store_true", help="keep data folders and databases")


@dataclass
class Server:
    """A running `sipantau serve` on loopback, with its demo accounts."""

    base: str
    data: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def credentials(self) -> list[dict[str, Any]]:
        doc = json.loads((self.data / "demo-credentials.json").read_text(encoding="utf-8"))
        return list(doc["users"])

    def login(self, client: httpx.Client, username: str, password: str) -> str:
        r = client.post(f"{API}/auth/login", json={"username": username, "password": password})
        if r.status_code != 200:
            raise SystemExit(f"login as {username} failed: {_error(r)}")
        return str(r.json()["token"])

    @contextmanager
    def admin_client(self) -> Iterator[httpx.Client]:
        admin = next(u for u in self.credentials if u["role"] == "admin")
        with httpx.Client(base_url=self.base, timeout=120.0) as c:
            c.headers["Authorization"] = (
                f"Bearer {self.login(c, admin['username'], admin['password'])}"
            )
            yield c


def _wait_ready(server: Server, workers: int, timeout: float = 180.0) -> None:
    """Health answers, the demo credentials are written and every worker has started."""
    deadline = time.monotonic() + timeout
    pid_dir = server.data / "run" / "workers"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"sipantau serve exited {server.proc.returncode}:\n{tail}")
        try:
            healthy = httpx.get(f"{server.base}{API}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            healthy = False
        started = len(list(pid_dir.glob("*.pid"))) if pid_dir.exists() else 0
        if healthy and started >= workers and (server.data / "demo-credentials.json").exists():
            time.sleep(1.5)  # the workers load the reader (under a second)
            return
        time.sleep(0.2)
    raise SystemExit(f"sipantau serve not ready after {timeout:.0f} s; see {server.log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask serve to stop (it stops its workers); kill its process group if it will not."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its workers, if serve died without stopping them
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def start_server(data: Path, workers: int, database_url: str | None) -> Iterator[Server]:
    """`sipantau serve --demo --no-samples` on a free loopback port, until the block ends."""
    port = procs.free_port()
    cmd = [*procs.CLI, "serve", "--data", str(data), "--host", HOST, "--port", str(port)]
    cmd += ["--workers", str(workers), "--no-ui", "--demo", "--no-samples"]
    if database_url:
        cmd += ["--database-url", database_url]
    data.parent.mkdir(parents=True, exist_ok=True)
    log = data.with_name(f"{data.name}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://{HOST}:{port}", data, proc, log)
    try:
        _wait_ready(server, workers)
        yield server
    finally:
        _stop(proc)


@contextmanager
def fresh_database(url: str | None, tag: str, keep: bool) -> Iterator[str | None]:
    """With a PostgreSQL URL: a new empty database on that server for one run, then dropped."""
    if not url:
        yield None
        return
    from sqlalchemy import create_engine, make_url, text

    base = make_url(url)
    if not base.get_backend_name().startswith("postgresql"):
        yield url  # not ours to empty; the run's counts assume it is
        return
    name = f"{base.database or 'sipantau'}_bench_{os.getpid()}_{tag}".replace("-", "_").lower()
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with engine.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@dataclass
class Upload:
    """One upload as the client saw it: when sent, how long until acknowledged, the answer."""

    tps: str
    race: str
    resend: bool = False
    status: int = 0
    sub_id: int | None = None
    sent_at: float = 0.0  # wall clock, s
    ack_s: float | None = None  # first attempt to the 2xx answer
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def _error(r: httpx.Response) -> str:
    try:
        return f"{r.status_code} {r.json()['error']['code']}"
    except (ValueError, KeyError, TypeError):
        return f"{r.status_code} {r.text[:80]}"


def send(client: httpx.Client, up: Upload, token: str, data: bytes, seed: int) -> Upload:
    """POST one photo, retried (same photo, same client_id) on a network error, 5xx or 429."""
    form = {"tps": up.tps, "race": up.race, "client_id": f"bench-{seed}-{up.tps}-{up.race}"}
    files = {"photo": (f"{up.tps}-{up.race}.jpg", data, "image/jpeg")}
    headers = {"Authorization": f"Bearer {token}"}
    up.sent_at, t0 = time.time(), time.perf_counter()
    for attempt in range(1, 5):
        up.attempts = attempt
        try:
            r = client.post(f"{API}/submissions", data=form, files=files, headers=headers)
        except httpx.HTTPError as exc:
            up.errors.append(type(exc).__name__)
        else:
            if r.status_code in (200, 201):
                up.status, up.sub_id = r.status_code, int(r.json()["id"])
                up.ack_s = time.perf_counter() - t0
                return up
            up.errors.append(_error(r))
            if r.status_code < 500 and r.status_code != 429:
                up.status = r.status_code
                return up
        time.sleep(0.5 * attempt)
    return up


def upload_all(
    server: Server,
    items: list[Upload],
    tokens: dict[str, str],
    photos: dict[str, bytes],
    clients: int,
    seed: int,
) -> list[Upload]:
    """Send `items` from `clients` threads, each with its own HTTP client; items in order."""
    local = threading.local()

    def one(up: Upload) -> Upload:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=server.base, timeout=120.0)
        return send(local.client, up, tokens[up.tps], photos[f"{up.tps}-{up.race}"], seed)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(one, items))


def login_monitors(server: Server, tps: set[str], clients: int) -> dict[str, str]:
    """A token for the demo monitor of each TPS (argon2 makes each login cost CPU)."""
    creds = server.credentials
    users = {u["tps"][0]: u for u in creds if u["role"] == "monitor" and len(u["tps"]) == 1}
    missing = sorted(tps - set(users))
    if missing:
        raise SystemExit(
            f"no demo monitor for {len(missing)} TPS, e.g. {missing[:3]}: "
            "is the photo set made from the same TPS list as the demo election?"
        )

    def one(code: str) -> tuple[str, str]:
        with httpx.Client(base_url=server.base, timeout=60.0) as c:
            return code, server.login(c, users[code]["username"], users[code]["password"])

    with ThreadPoolExecutor(max_workers=min(clients, 8)) as pool:
        return dict(pool.map(one, sorted(tps)))


def list_all(client: httpx.Client, status: str | None = None) -> list[dict[str, Any]]:
    """Every submission (summary), following pages of 5000."""
    out: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": 5000, "offset": len(out)}
        if status:
            params["status"] = status
        r = client.get(f"{API}/submissions", params=params)
        r.raise_for_status()
        items = r.json()["items"]
        out += items
        if len(items) < 5000:
            return out


def _any(client: httpx.Client, status: str) -> bool:
    r = client.get(f"{API}/submissions", params={"status": status, "limit": 1})
    r.raise_for_status()
    return bool(r.json()["items"])


def wait_read(client: httpx.Client, expected: int, timeout: float) -> float:
    """Poll (cheaply: one row a query) until none is queued or reading; the wall time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_any(client, s) for s in PENDING) and len(list_all(client)) >= expected:
            return time.time()
        time.sleep(0.5)
    raise SystemExit(f"reading did not finish within {timeout:.0f} s")


def _at(text: str) -> float:
    from datetime import UTC, datetime

    t = datetime.fromisoformat(text)
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def read_times(client: httpx.Client, ids: list[int]) -> dict[int, dict[str, float | None]]:
    """From each submission's history: when it was stored and read, and the reader's ms."""

    def one(sub_id: int) -> tuple[int, dict[str, float | None]]:
        r = client.get(f"{API}/submissions/{sub_id}/history")
        r.raise_for_status()
        ev = r.json()["events"]
        up = next((e for e in ev if e["kind"] == "uploaded"), None)
        rd = next((e for e in ev if e["kind"] in READ_EVENTS), None)
        ms = (rd or {}).get("detail", {}).get("ms") if rd else None
        return sub_id, {
            "stored_at": _at(up["at"]) if up else None,
            "read_at": _at(rd["at"]) if rd else None,
            "read_ms": float(ms) if ms is not None else None,
        }

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, ids))


def check(
    client: httpx.Client, subs: list[dict[str, Any]], ups: list[Upload], resends: list[Upload]
) -> dict[str, Any]:
    """None lost, none doubled, re-sends idempotent, coverage agreeing with the list."""
    want = Counter((u.tps, u.race) for u in ups)
    got = Counter((s["tps"], s["race"]) for s in subs)
    acked = {u.sub_id for u in ups if u.status == 201}
    first = {(u.tps, u.race): u.sub_id for u in ups}
    out: dict[str, Any] = {
        "expected": len(ups),
        "submissions": len(subs),
        "acknowledged_201": sum(u.status == 201 for u in ups),
        "failed_uploads": [asdict(u) for u in ups if u.status not in (200, 201)],
        "lost": sorted(f"{k[0]}/{k[1]}" for k in want if k not in got),
        "doubled": sorted(f"{k[0]}/{k[1]}" for k, n in got.items() if n > 1),
        "unexpected": sorted(f"{k[0]}/{k[1]}" for k in got if k not in want),
        "acked_not_listed": sorted(acked - {int(s["id"]) for s in subs}),
        "resent": len(resends),
        "resend_not_200_same_id": [
            f"{u.tps}/{u.race}: {u.status} id {u.sub_id} (first {first.get((u.tps, u.race))})"
            for u in resends
            if u.status != 200 or u.sub_id != first.get((u.tps, u.race))
        ],
        "statuses": dict(Counter(s["status"] for s in subs)),
        "coverage": {},
    }
    for race in sorted({u.race for u in ups}):
        r = client.get(f"{API}/coverage", params={"race": race})
        r.raise_for_status()
        total = r.json()["total"]
        sent = sum(1 for u in ups if u.race == race)
        out["coverage"][race] = {**total, "sent": sent, "agrees": total.get("received") == sent}
    out["ok"] = (
        not any(
            out[k] for k in ("failed_uploads", "lost", "doubled", "unexpected", "acked_not_listed")
        )
        and not out["resend_not_200_same_id"]
        and len(subs) == len(ups)
        and all(c["agrees"] for c in out["coverage"].values())
    )
    return out


def timing(ups: list[Upload], times: dict[int, dict[str, float | None]]) -> dict[str, Any]:
    """Ack latency, time to read everything, photos read a minute."""
    acks = [u.ack_s for u in ups if u.ack_s is not None]
    start = min(u.sent_at for u in ups)
    acked_at = [u.sent_at + u.ack_s for u in ups if u.ack_s is not None]
    read_at = [t["read_at"] for t in times.values() if t["read_at"] is not None]
    ms = [t["read_ms"] for t in times.values() if t["read_ms"] is not None]
    began = [
        t["read_at"] - t["read_ms"] / 1000
        for t in times.values()
        if t["read_at"] is not None and t["read_ms"] is not None
    ]
    by_id = {u.sub_id: u for u in ups if u.ack_s is not None}
    waits = [
        t["read_at"] - (by_id[i].sent_at + (by_id[i].ack_s or 0))
        for i, t in times.items()
        if t["read_at"] is not None and i in by_id
    ]
    n, last = len(read_at), max(read_at) if read_at else None
    first_ack = min(acked_at) if acked_at else None
    span_ack = last - first_ack if last and first_ack else None
    span_read = last - min(began) if last and began else None
    return {
        "photos": len(ups),
        "ack_p50_s": _r(_pct(acks, 50)),
        "ack_p95_s": _r(_pct(acks, 95)),
        "ack_max_s": _r(max(acks) if acks else None),
        "all_acked_s": _r(max(acked_at) - start if acked_at else None, 2),
        "all_read_s": _r(last - start if last else None, 2),
        "ack_to_read_p50_s": _r(_pct(waits, 50), 2),
        "ack_to_read_p95_s": _r(_pct(waits, 95), 2),
        "read_ms_p50": _r(_pct(ms, 50), 1),
        "read_ms_p95": _r(_pct(ms, 95), 1),
        "per_min_from_first_ack": _r(n / span_ack * 60 if span_ack else None, 1),
        "per_min_from_first_read": _r(n / span_read * 60 if span_read else None, 1),
    }


def session_run(
    args: argparse.Namespace,
    ps: photoset.Photoset,
    records: list[dict[str, Any]],
    workers: int,
    tag: str,
    root: Path,
    resend: float,
) -> dict[str, Any]:
    """One fresh server: log in, send `records` (and re-sends), wait, check, time."""
    photos = {f"{p['tps']}-{p['race']}": ps.path(p).read_bytes() for p in records}
    load_before = [round(x, 2) for x in os.getloadavg()]
    with (
        fresh_database(args.database_url, tag, args.keep) as url,
        start_server(root / tag, workers, url) as server,
    ):
        t0 = time.perf_counter()
        tokens = login_monitors(server, {p["tps"] for p in records}, args.clients)
        login_s = time.perf_counter() - t0
        ups = [Upload(p["tps"], p["race"]) for p in records]
        ups = upload_all(server, ups, tokens, photos, args.clients, args.seed)
        again = random.Random(args.seed).sample(ups, math.ceil(len(ups) * resend))
        resends = [Upload(u.tps, u.race, resend=True) for u in again]
        resends = upload_all(server, resends, tokens, photos, args.clients, args.seed)
        with server.admin_client() as admin:
            wait_read(admin, len(ups), args.timeout)
            subs = list_all(admin)
            result = check(admin, subs, ups, resends)
            times = read_times(admin, [int(s["id"]) for s in subs])
        result["timing"] = timing(ups, times)
        result["load_average_before"] = load_before
        result["timing"]["login_s"] = round(login_s, 2)
        result["resend_ack_p50_s"] = _r(_pct([u.ack_s for u in resends if u.ack_s], 50))
        result.update(workers=workers, clients=args.clients, data=str(server.data))
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def _print(results: dict[str, Any]) -> None:
    b = results.get("burst")
    if b:
        t, s = b["timing"], b["statuses"]
        print(f"\n== burst: {t['photos']} uploads, {b['clients']} clients, {b['workers']} workers")
        rows = [
            ("none lost / none doubled", f"{not b['lost']} / {not b['doubled']}  (ok={b['ok']})"),
            ("submissions / expected", f"{b['submissions']} / {b['expected']}"),
            ("non-2xx after retries", len(b["failed_uploads"])),
            (
                "re-sends answered 200, same id",
                f"{b['resent'] - len(b['resend_not_200_same_id'])} / {b['resent']}",
            ),
            ("ack p50 / p95 / max (s)", f"{t['ack_p50_s']} / {t['ack_p95_s']} / {t['ack_max_s']}"),
            ("all acknowledged after (s)", t["all_acked_s"]),
            ("all read after (s)", t["all_read_s"]),
            ("ack -> read p50 / p95 (s)", f"{t['ack_to_read_p50_s']} / {t['ack_to_read_p95_s']}"),
            ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(s.items()))),
            ("monitor logins before (s)", t["login_s"]),
            (
                "load average before / after",
                f"{b['load_average_before']} / {b['load_average_after']}",
            ),
        ]
        for k, v in rows:
            print(f"  {k:34s} {v}")
    runs = results.get("throughput") or []
    if runs:
        print("\n== reading throughput (photos a minute)")
        print(
            f"  {'workers':>7} {'photos':>6} {'from 1st ack':>12} {'from 1st read':>13} "
            f"{'read ms p50':>11} {'ok':>4}  load average before / after"
        )
        for r in runs:
            t = r["timing"]
            print(
                f"  {r['workers']:>7} {t['photos']:>6} {t['per_min_from_first_ack']!s:>12} "
                f"{t['per_min_from_first_read']!s:>13} {t['read_ms_p50']!s:>11} "
                f"{r['ok']!s:>4}  {r['load_average_before']} / {r['load_average_after']}"
            )


def run(args: argparse.Namespace) -> int:
    """The phases asked for; a table, and JSON to `--out`. 1 when a check fails."""
    phases = {p.strip() for p in args.phases.split(",")}
    need = args.count
    if need is not None and "throughput" in phases:
        need = max(need, args.throughput_count)
    ps = photoset.build(args.seed, need, args.photo_cache)
    print(photoset.describe(ps), flush=True)
    burst = ps.photos[: args.count] if args.count is not None else ps.photos
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "photos": {
            "folder": str(ps.folder),
            "count": len(ps.photos),
            "made": ps.made,
            "make_s": round(ps.seconds, 1),
            "recipe": photoset.RECIPE,
        },
        "database": "postgresql" if args.database_url else "sqlite",
    }
    root = Path(tempfile.mkdtemp(prefix="sipantau-bench-"))
    try:
        if "burst" in phases:
            print(f"burst: {len(burst)} uploads from {args.clients} clients ...", flush=True)
            results["burst"] = session_run(
                args, ps, burst, args.burst_workers, "burst", root, args.resend
            )
        if "throughput" in phases:
            results["throughput"] = []
            for n in args.workers:
                records = ps.photos[: args.throughput_count]
                print(f"throughput: {len(records)} photos, {n} workers ...", flush=True)
                run_n = session_run(args, ps, records, n, f"workers-{n}", root, 0.0)
                results["throughput"].append(run_n)
    finally:
        if args.keep:
            print(f"data folders and server logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    _print(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"\nwritten {args.out}")
    ok = all(r["ok"] for r in [results.get("burst"), *results.get("throughput", [])] if r)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sipantau bench service", description=__doc__)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
