"""The stress bench in a reduced size: every fault scenario against real servers it starts
itself (durable PostgreSQL, Redis, the API, Celery workers), and every invariant must hold."""

from __future__ import annotations

import argparse
import json

import pytest

from sipantau.bench import stress


def test_variants_are_distinct_bytes_of_the_same_jpeg() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"rest-of-file"
    a, b = stress.variant(jpeg, 1), stress.variant(jpeg, 2)
    assert a != b and a[:2] == b"\xff\xd8" and a.endswith(jpeg[2:])
    assert a[2:4] == b"\xff\xfe" and int.from_bytes(a[4:6], "big") == len(b"sipantau-stress-1") + 2


@pytest.mark.service
def test_reduced_stress_run_keeps_every_invariant(tmp_path) -> None:
    p = argparse.ArgumentParser()
    stress.add_arguments(p)
    out = tmp_path / "stress.json"
    args = p.parse_args(
        ["--uploads", "16", "--clients", "8", "--slots", "8", "--job-lease", "10"]
        + ["--photo-cache", str(tmp_path / "photos"), "--out", str(out), "--timeout", "240"]
    )
    code = stress.run(args)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [r["scenario"] for r in doc["results"]] == list(stress.SCENARIOS)
    for r in doc["results"]:
        assert (r["acked"], r["lost"], r["read_twice"], r["unread"]) == (16, 0, 0, 0), r
        assert r["totals_match"], r["totals"]
    kill = next(r for r in doc["results"] if r["scenario"] == "kill-worker")
    assert kill["restarts"]["worker"] >= 1
    every = next(r for r in doc["results"] if r["scenario"] == "all")
    assert list(every["faults_at_s"]) == list(stress.FAULTS)
    assert every["restarts"]["api"] == 2  # restart-api, then again in `all`
    assert code == 0
