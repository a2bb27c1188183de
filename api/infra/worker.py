"""Background reading: a worker process claims jobs, reads photos, records the outcome.

Run by `sipantau serve` (several at once) or alone with `python -m sipantau.api.infra.worker`; it
polls the database, or with SIPANTAU_JOB_BACKEND=celery takes the broker's messages instead.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from sipantau.api.domain.outcome import Flag, add_flag, record
from sipantau.api.domain.rules import ALL_RACES
from sipantau.api.infra import jobs
from sipantau.api.infra.context import Context
from sipantau.api.infra.db import transaction
from sipantau.api.infra.logs import log_context, setup_logging
from sipantau.api.infra.models import Event, Photo, Submission
from sipantau.api.infra.settings import ServiceSettings
from sipantau.api.infra.storage import StoreUnavailable, write_durably
from sipantau.ocr.blur import photo_sharpness
from sipantau.ocr.decode import decode
from sipantau.ocr.fingerprint import bands, phash_bytes, to_signed
from sipantau.ocr.pipeline import Reader
from sipantau.ocr.quality import BLURRY
from sipantau.ocr.types import FormReading, Reason
from sipantau.templates.model import Template

log = logging.getLogger("sipantau.worker")
DOWN_PAUSE_S = 1.0  # between tries while the database or the photo store is unreachable


@dataclass
class Worker:
    """One reading process: loads the reader once, then takes jobs until told to stop."""

    ctx: Context
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    stopping: bool = False
    _reader: Reader | None = None
    _last_reap: float = 0.0

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            from sipantau.ocr.digits import default_reader
            from sipantau.templates.registry import all_templates

            self._reader = Reader(all_templates(), default_reader())
        return self._reader

    def run_once(self) -> bool:
        """Read one job if there is one; False when the queue was empty."""
        s = self.ctx.settings
        return self._run(lambda db: jobs.claim(db, self.name, s.job_lease_s, s.job_max_attempts))

    def run_job(self, job_id: int) -> bool:
        """Read job `job_id` (a broker's message) if it can be claimed; False: done, held, spent."""
        s = self.ctx.settings
        return self._run(
            lambda db: jobs.claim_by_id(db, job_id, self.name, s.job_lease_s, s.job_max_attempts)
        )

    def _run(self, take: Callable[[Session], jobs.Claim | None]) -> bool:
        """Claim with `take`, read the photo, record the outcome: the same for both backends."""
        s = self.ctx.settings
        with transaction(self.ctx.sessions) as session:
            claim = take(session)
            if claim is None:
                return False
            sub = session.get(Submission, claim.submission_id)
            assert sub is not None
            if sub.status != "withdrawn":
                sub.status = "reading"
            sha, race = sub.photo_sha, sub.race
        log.info("job %d (submission %d) attempt %d", claim.job_id, sub.id, claim.attempt)
        if s.worker_hold_s:
            time.sleep(s.worker_hold_s)  # fault injection, for the kill tests
        with log_context(job_id=claim.job_id, submission_id=claim.submission_id):
            return self._read(claim, sha, sub.id, race)

    def _read(self, claim: jobs.Claim, sha: str, sub_id: int, race: str) -> bool:
        try:
            data = self.ctx.store.get(sha)
            h = phash_bytes(data)
            reading = self._explained(self.reader.read(data, photo=f"kiriman-{sub_id}"), data, race)
            if reading.page is not None:
                ok, buf = cv2.imencode(".jpg", reading.page.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
                if ok:
                    self.ctx.store.put_derived(f"{sub_id}-page.jpg", buf.tobytes())
        except StoreUnavailable as exc:  # not the photo's fault: hand it back, try again later
            with transaction(self.ctx.sessions) as session:
                sub = session.get(Submission, claim.submission_id)
                if jobs.release(session, claim) and sub is not None and sub.status != "withdrawn":
                    sub.status = "queued"
            raise jobs.Unavailable(f"photo store: {exc.detail}") from exc
        except Exception as exc:  # a damaged photo on disk, a full disk: a person must look
            log.exception("job %d failed", claim.job_id)
            self._fail(claim, f"{type(exc).__name__}: {exc}")
            return True
        self._store(claim, reading, sha, h)
        return True

    def _explained(self, reading: FormReading, data: bytes, race: str) -> FormReading:
        """A form the monitor chose but the reader could not tell: read it as that form, and
        when no form is found say whether blur is why; never ask them to choose the form."""
        chosen = chosen_template(self.reader.templates, race)
        if chosen is None or not reading_codes(reading) & UNIDENTIFIED:
            return reading
        again = self.reader.read(data, photo=reading.photo, template_id=chosen)
        if reading_codes(again) & NOT_FOUND:
            sharp = photo_sharpness(decode(data).image)
            if sharp < self.ctx.settings.photo_min_sharpness:
                log.info("no form found; photo sharpness %.2f: blurred", sharp)
                again.reasons = [Reason("blurry", BLURRY)]
        return again

    def _store(self, claim: jobs.Claim, reading: FormReading, sha: str, h: int | None) -> None:
        with transaction(self.ctx.sessions) as session:
            if not jobs.finish(session, claim):
                log.warning("job %d: lease lost, result dropped", claim.job_id)
                session.rollback()
                return
            photo = session.get(Photo, sha)
            # locked: a withdrawal committed meanwhile must not be overwritten (PostgreSQL)
            sub = session.get(Submission, claim.submission_id, with_for_update=True)
            assert photo is not None and sub is not None
            if h is not None and photo.phash is None:
                photo.phash = to_signed(h)
                photo.band0, photo.band1, photo.band2, photo.band3 = bands(h)
            template = self.reader.templates.get(reading.template or "")
            record(
                session,
                sub,
                claim.job_id,
                self.name,
                reading,
                template,
                photo,
                self.ctx.settings.phash_max_distance,
            )

    def _fail(self, claim: jobs.Claim, error: str) -> None:
        with transaction(self.ctx.sessions) as session:
            if jobs.finish(session, claim, error=error):
                sub = session.get(Submission, claim.submission_id)
                assert sub is not None
                _give_to_person(session, sub, error)

    def reap(self) -> None:
        """Jobs that killed every worker that tried them go to a person instead."""
        with transaction(self.ctx.sessions) as session:
            for job in jobs.abandoned(session, self.ctx.settings.job_max_attempts):
                job.state, job.error = "failed", "every attempt died"
                sub = session.get(Submission, job.submission_id)
                assert sub is not None
                _give_to_person(session, sub, job.error)

    def run(self) -> None:
        """Loop until SIGTERM/SIGINT; the job in hand is finished first."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.reader  # noqa: B018 - load the model before taking jobs
        log.info("worker %s ready", self.name)
        while not self.stopping:
            try:
                if time.monotonic() - self._last_reap > 10:
                    self._last_reap = time.monotonic()
                    self.reap()
                if not self.run_once():
                    time.sleep(self.ctx.settings.worker_poll_s)
            except (jobs.Unavailable, OperationalError, InterfaceError) as exc:
                log.warning("waiting %.0f s: %s", DOWN_PAUSE_S, exc)  # e.g. PostgreSQL restarting
                time.sleep(DOWN_PAUSE_S)

    def _stop(self, *_: object) -> None:
        self.stopping = True


UNIDENTIFIED = {"form_not_identified"}
NOT_FOUND = {"form_not_found", "form_not_identified"}


def reading_codes(reading: FormReading) -> set[str]:
    """The stable codes of a rejected reading's reasons (never their wording)."""
    return {r.code for r in reading.reasons} if reading.status == "rejected" else set()


def chosen_template(templates: dict[str, Template], race: str) -> str | None:
    """The one template a submission for `race` names (`semua`: the blanko), if one."""
    want = None if race == ALL_RACES else race
    ids = [t.id for t in templates.values() if t.race == want]
    return ids[0] if len(ids) == 1 else None


def _give_to_person(session: Session, sub: Submission, error: str) -> None:
    if sub.status == "withdrawn":
        return
    sub.status = "review"
    add_flag(session, sub, Flag("read_failed", "foto tidak dapat dibaca mesin; isi secara manual"))
    session.add(Event(submission_id=sub.id, kind="read_failed", detail={"error": error[:500]}))


def main() -> None:
    settings = ServiceSettings()
    setup_logging(settings.log_format)  # text, or one JSON object a line
    cv2.setNumThreads(1)
    pid_file = os.environ.get("SIPANTAU_WORKER_PID_FILE")
    if pid_file:
        write_durably(Path(pid_file), str(os.getpid()).encode())
    if settings.job_backend == "celery":  # messages from the broker, same reading code
        from sipantau.api.infra.celery_app import run_worker

        run_worker(settings)
        return
    Worker(Context.create(settings)).run()


if __name__ == "__main__":
    main()
