"""The service benchmark: its photo set, its arithmetic, and a reduced run of the real service."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from sipantau.bench import photoset, service
from sipantau.samples.values import failing_checks
from sipantau.templates.registry import get_template


def test_pairs_are_tps_major_and_cut_by_count() -> None:
    jobs = photoset.jobs_for([("1673011001-001", 300), ("1673011001-002", 410)], seed=1, count=3)
    assert [(j.tps, j.race) for j in jobs] == [
        ("1673011001-001", "gubernur"),
        ("1673011001-001", "walikota"),
        ("1673011001-002", "gubernur"),
    ]
    assert jobs[0].name == "1673011001-001-gubernur.jpg"


@pytest.mark.parametrize("dpt", [87, 312, 598, 900])
def test_values_carry_the_tps_dpt_and_hold(dpt: int) -> None:
    template = get_template("c-hasil-kwk-walikota")
    v = photoset.values_for(template, np.random.default_rng(dpt), dpt, slip_rate=0.0)
    assert v.fields["dpt_jml"] == dpt
    assert v.fields["dpt_l"] + v.fields["dpt_p"] == dpt
    assert v.consistent and not failing_checks(template, v.fields)
    assert v.fields["pengguna_jml"] <= int(dpt * 1.025)


def test_percentile_and_timing() -> None:
    assert service._pct([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert service._pct([], 95) is None
    ups = [service.Upload("t", "gubernur", status=201, sub_id=i, sent_at=100.0) for i in (1, 2)]
    for u, ack in zip(ups, (0.1, 0.3), strict=True):
        u.ack_s = ack
    times = {
        1: {"stored_at": 100.1, "read_at": 101.1, "read_ms": 500.0},
        2: {"stored_at": 100.3, "read_at": 101.6, "read_ms": 500.0},
    }
    t = service.timing(ups, times)
    assert t["all_read_s"] == 1.6 and t["all_acked_s"] == 0.3
    assert t["per_min_from_first_ack"] == 80.0  # 2 photos in 1.5 s
    assert t["per_min_from_first_read"] == 120.0  # reading began at 100.6


@pytest.mark.service
def test_reduced_burst_loses_nothing_and_counts_once(tmp_path) -> None:
    p = argparse.ArgumentParser()
    service.add_arguments(p)
    out = tmp_path / "bench-service.json"
    args = p.parse_args(
        ["--count", "12", "--clients", "4", "--burst-workers", "1", "--phases", "burst"]
        + ["--photo-cache", str(tmp_path / "photos"), "--out", str(out), "--timeout", "300"]
    )
    assert service.run(args) == 0
    burst = json.loads(out.read_text(encoding="utf-8"))["burst"]
    assert burst["submissions"] == burst["expected"] == 12
    assert burst["lost"] == burst["doubled"] == burst["unexpected"] == []
    assert burst["failed_uploads"] == [] and burst["acked_not_listed"] == []
    assert burst["resent"] == 1 and burst["resend_not_200_same_id"] == []
    assert sum(burst["statuses"].values()) == 12
    assert not set(burst["statuses"]) & {"queued", "reading"}
    assert all(c["agrees"] for c in burst["coverage"].values())
    assert burst["timing"]["all_read_s"] is not None
