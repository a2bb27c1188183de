"""Machine corrections stay visible: in the first version's reason and in the exports' column."""

from __future__ import annotations

from sqlalchemy import select

from sipantau.api.domain.corrections import corrected_fields, describe, machine_corrected
from sipantau.api.infra import jobs
from sipantau.api.infra.db import transaction
from sipantau.api.infra.models import FormValues, Job, Reading, Submission, User

FIELDS = {
    "wako_paslon_1": {"value": 120, "corrected": True, "read_value": 127, "status": "ok"},
    "wako_paslon_2": {"value": 95, "corrected": False, "read_value": None, "status": "ok"},
}


def test_corrected_fields_and_their_description() -> None:
    fixed = corrected_fields(FIELDS)
    assert fixed == {"wako_paslon_1": (127, 120)}
    text = describe(fixed, {"wako_paslon_1": "Suara paslon 1"})
    assert text == "dikoreksi mesin: Suara paslon 1 127 -> 120"
    assert describe({"x": (None, 0)}, {}) == "dikoreksi mesin: x kosong -> 0"
    assert corrected_fields({"a": {"value": 3}}) == {}  # readings stored before corrections


def test_machine_corrected_until_a_reviewer_sets_the_values(sessions) -> None:
    factory = sessions  # conftest's seeded database: one TPS, the monitor, photos a, b, c
    with transaction(factory) as s:
        sub = Submission(
            tps_code="1673011001-001",
            race="walikota",
            photo_sha="a" * 64,
            submitted_by=s.scalar(select(User.id)),
            flags=[],
            client_id="1",
        )
        s.add(sub)
        s.flush()
        jobs.enqueue(s, sub.id)
        s.flush()
        job_id = s.scalar(select(Job.id))
        s.add(
            Reading(
                submission_id=sub.id,
                job_id=job_id,
                worker="w",
                template="c-hasil-kwk-walikota",
                status="ok",
                reasons=[],
                fields=FIELDS,
                ms=1.0,
            )
        )
        values = {n: f["value"] for n, f in FIELDS.items()}
        s.add(
            FormValues(submission_id=sub.id, version=1, source="reader", values=values, problems=[])
        )
        sid = sub.id
    with transaction(factory) as s:
        assert machine_corrected(s, [sid]) == {sid: ["wako_paslon_1"]}
        assert machine_corrected(s, []) == {}
        s.add(
            FormValues(submission_id=sid, version=2, source="reviewer", values=values, problems=[])
        )
    with transaction(factory) as s:
        assert machine_corrected(s, [sid]) == {}  # a person's version counts now
