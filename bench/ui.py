"""`sipantau bench ui`: how long the leadership dashboard takes to load with a full election.

Starts the real service (`sipantau serve --demo --no-samples`) with a fresh data folder (and,
with `--database-url`, a fresh PostgreSQL database), then fills the database *with the
service's own models* (bench only): every TPS of the demo election reported for both races
(328 x 2 = 656 forms, `--review-share` of them left in review, the rest verified, arriving over
three hours), as the workers would have left them. Reading 656 photos for real takes ~80 s
and is `sipantau bench service`'s subject, not this one's.

It then times, as the leadership account, each API call one dashboard load makes and the
whole page run by Streamlit's AppTest in a fresh session (so nothing is cached), median of
`--runs`. Run as `sipantau bench ui` or `python -m sipantau.bench.ui`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sipantau.bench.service import API, Server, fresh_database, start_server

TARGET_S = 1.0
RACE = "gubernur"
PAGE = Path(__file__).resolve().parents[1] / "review_ui" / "app_pages" / "dashboard.py"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=7, help="timed loads, median reported (7)")
    p.add_argument("--review-share", type=float, default=0.05, help="forms left in review (0.05)")
    p.add_argument("--seed", type=int, default=20261127, help="votes' random seed")
    p.add_argument("--database-url", help="PostgreSQL server URL: a fresh database for the run")
    p.add_argument("--out", type=Path, default=Path("out/bench-ui.json"), help="JSON results")


def _votes(rng: random.Random, dpt: int, n: int) -> dict[str, int]:
    """A consistent C.HASIL-KWK race block: paslon sum to valid votes, R6 holds."""
    voters = rng.randint(dpt * 6 // 10, dpt)
    invalid = rng.randint(0, max(1, voters // 40))
    weights = [rng.random() + 0.2 for _ in range(n)]
    valid = voters - invalid
    paslon = [int(valid * w / sum(weights)) for w in weights]
    paslon[0] += valid - sum(paslon)
    out = {f"paslon_{i + 1}": v for i, v in enumerate(paslon)}
    return out | {
        "suara_sah": valid,
        "suara_tidak_sah": invalid,
        "jumlah_suara": voters,
        "pengguna_jml": voters,
        "dpt_jml": dpt,
    }


def seed(data: Path, database_url: str | None, review_share: float, rng_seed: int) -> int:
    """Every (TPS, race) as a read KWK form, verified unless drawn for review; their count."""
    from sqlalchemy import select

    from sipantau.api.infra.context import Context
    from sipantau.api.infra.db import transaction
    from sipantau.api.infra.models import FormValues, Photo, Race, Submission, Tps, User
    from sipantau.api.infra.settings import ServiceSettings

    rng = random.Random(rng_seed)
    ctx = Context.create(ServiceSettings(data_dir=data, database_url=database_url))
    start = datetime.now(UTC) - timedelta(hours=3)
    made = 0
    with transaction(ctx.sessions) as s:
        monitors = {u.username: u.id for u in s.scalars(select(User).where(User.role == "monitor"))}
        races = list(s.scalars(select(Race).order_by(Race.position)))
        for tps in s.scalars(select(Tps).order_by(Tps.code)):
            for race in races:
                sha = hashlib.sha256(f"bench-ui|{tps.code}|{race.id}".encode()).hexdigest()
                s.add(Photo(sha256=sha, size=300_000, format="jpeg", width=2000, height=1500))
                at = start + timedelta(seconds=rng.uniform(0, 2.5 * 3600))
                review = rng.random() < review_share
                sub = Submission(
                    tps_code=tps.code,
                    race=race.id,
                    photo_sha=sha,
                    submitted_by=monitors[f"tps-{tps.code}"],
                    created_at=at,
                    status="review" if review else "verified",
                    template=f"c-hasil-kwk-{race.id}",
                    flags=[],
                    verified_at=None if review else at + timedelta(seconds=rng.uniform(5, 900)),
                )
                s.add(sub)
                s.flush()
                values = _votes(rng, tps.dpt, len(race.paslon))
                s.add(
                    FormValues(
                        submission_id=sub.id, version=1, source="reader", values=values, problems=[]
                    )
                )
                made += 1
    return made


def touch(data: Path, database_url: str | None) -> None:
    """One new event, as any upload or review would add: the API's totals cache (keyed by the
    event count) is cold again, so every timed load pays for rebuilding the states."""
    from sipantau.api.infra.context import Context
    from sipantau.api.infra.db import transaction
    from sipantau.api.infra.models import Event
    from sipantau.api.infra.settings import ServiceSettings

    ctx = Context.create(ServiceSettings(data_dir=data, database_url=database_url))
    with transaction(ctx.sessions) as s:
        s.add(Event(kind="bench_touch", detail={}))


def _median_s(fn: Any, runs: int, before: Any = None) -> float:
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def dashboard_calls(race: str) -> list[tuple[str, dict[str, Any]]]:
    """The API reads one dashboard load makes (`app_pages/dashboard.py`, kota view)."""
    return [
        ("/election", {}),
        ("/results", {"race": race, "level": "kecamatan"}),
        ("/coverage", {"race": race, "level": "kecamatan"}),
        ("/results/timeline", {"race": race, "bucket_min": 15}),
        ("/coverage/missing", {"race": race}),
    ]


def time_api(
    server: Server, token: str, race: str, runs: int, before: Any = None
) -> dict[str, float]:
    """Median seconds of each call of a load, of a drill-down call, and of both exports."""
    out: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {token}"}
    extra = [
        ("/results kelurahan", "/results", {"race": race, "level": "kelurahan"}),
        ("/exports/results.csv", "/exports/results.csv", {"race": race}),
        ("/exports/results.xlsx", "/exports/results.xlsx", {"race": race}),
    ]
    calls = [(f"{p} {q.get('level', '')}".strip(), p, q) for p, q in dashboard_calls(race)]
    with httpx.Client(base_url=server.base + API, headers=headers, timeout=60) as c:
        for name, path, params in calls + extra:

            def one(path: str = path, params: dict[str, Any] = params) -> None:
                c.get(path, params=params).raise_for_status()

            one()  # warm
            out[name] = _median_s(one, runs, before)
    return out


def time_page(
    server: Server, token: str, user: dict[str, Any], runs: int, before: Any = None
) -> float:
    """Median seconds of a whole dashboard run in AppTest, each in a fresh session (no cache)."""
    from streamlit.testing.v1 import AppTest

    from sipantau.review_ui import session

    os.environ["SIPANTAU_API_URL"] = server.base + API
    session._http.clear()

    shared: list[Any] = []  # AppTest scans every installed package for components (~1 s)
    # on each new instance; a real server does it once at start, so the timed runs share one

    def load() -> None:
        at = AppTest.from_file(str(PAGE), default_timeout=60)
        if shared:
            at._bidi_component_manager = shared[0]
        at.session_state["token"] = token
        at.session_state["user"] = user
        at.run()
        shared[:] = [at._bidi_component_manager]
        if at.exception or at.error:
            raise SystemExit(f"dashboard failed: {[e.value for e in [*at.exception, *at.error]]}")

    load()  # warm: imports, first connection
    return _median_s(load, runs, before)


def run(args: argparse.Namespace) -> int:
    """Build the state, time a load; a table, JSON to `--out`. 1 when over the target."""
    root = Path(tempfile.mkdtemp(prefix="sipantau-bench-ui-"))
    try:
        made, seed_s, api, page = _measure(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return report(args, made, seed_s, api, page)


def _measure(args: argparse.Namespace, root: Path) -> tuple[int, float, dict[str, float], float]:
    with (
        fresh_database(args.database_url, "ui", False) as url,
        start_server(root / "data", 1, url) as server,
    ):
        t = time.perf_counter()
        made = seed(server.data, url, args.review_share, args.seed)
        seed_s = time.perf_counter() - t
        lead = next(u for u in server.credentials if u["role"] == "leadership")
        with httpx.Client(base_url=server.base, timeout=60) as c:
            r = c.post(
                f"{API}/auth/login",
                json={"username": lead["username"], "password": lead["password"]},
            )
            r.raise_for_status()
            token, user = r.json()["token"], r.json()["user"]

        def cold() -> None:
            touch(server.data, url)

        api = time_api(server, token, RACE, args.runs, cold)
        page = time_page(server, token, user, args.runs, cold)
    return made, seed_s, api, page


def report(
    args: argparse.Namespace, made: int, seed_s: float, api: dict[str, float], page: float
) -> int:
    """Print the table, write the JSON; 1 when a load is over the target."""
    paths = dict(dashboard_calls(RACE))
    load_calls = sum(v for k, v in api.items() if k.split()[0] in paths and "kelurahan" not in k)
    result = {
        "database": "postgresql" if args.database_url else "sqlite",
        "forms": made,
        "seed_s": round(seed_s, 2),
        "runs": args.runs,
        "api_median_s": {k: round(v, 4) for k, v in api.items()},
        "load_api_calls_s": round(load_calls, 4),
        "page_apptest_median_s": round(page, 4),
        "target_s": TARGET_S,
    }
    print(f"{made} forms seeded in {seed_s:.1f} s ({result['database']})")
    for k, v in api.items():
        print(f"  {k:<28} {1000 * v:8.1f} ms")
    print(f"  {'one load: its API calls':<28} {1000 * load_calls:8.1f} ms")
    print(f"  {'one load: AppTest page run':<28} {1000 * page:8.1f} ms (target < {TARGET_S} s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0 if page < TARGET_S else 1


def main() -> int:
    p = argparse.ArgumentParser(prog="sipantau bench ui", description=__doc__)
    add_arguments(p)
    return run(p.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
