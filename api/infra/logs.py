"""Logging for the API, uvicorn and the workers: plain text by default, or one JSON object a line.

JSON lines carry time, level, logger, message and process, plus whatever context is bound
(`log_context`: request id, job and submission ids) and any `extra=` fields of the call.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import pythonjsonlogger.json

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s%(context)s"
# Fields a caller may attach (extra= or log_context); anything else in extra= is ignored.
FIELDS = (
    "request_id",
    "method",
    "path",
    "route",
    "status",
    "ms",
    "client",
    "job_id",
    "submission_id",
    "attempt",
    "worker",
)
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "sipantau_log_context", default=None
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach `fields` (e.g. job_id=, submission_id=) to every log line inside the block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The bound context, overridden by the call's own extra= fields."""
    found = dict(_context.get() or {})
    for name in FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            found[name] = value
    return found


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """One JSON object a line (python-json-logger): time, level, logger, message, process, then
    the bound context and the call's FIELDS; exceptions as a single `exc` string field."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message", "process"],
            rename_fields={"levelname": "level", "name": "logger"} | _TRACES,
            json_ensure_ascii=False,
            json_default=str,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)
        for key in [k for k in log_data if k not in _KEPT]:
            del log_data[key]  # extra= fields other than FIELDS
        log_data.update(fields_of(record))
        for key in _TRACES.values():  # after the context, as before
            if key in log_data:
                log_data[key] = log_data.pop(key)


_TRACES = {"exc_info": "exc", "stack_info": "stack"}
_KEPT = {"time", "level", "logger", "message", "process", *_TRACES.values()}


class TextFormatter(logging.Formatter):
    """The usual one-line text, with bound context appended as `key=value`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        found = fields_of(record)
        record.context = "".join(f" {k}={v}" for k, v in found.items())
        return super().format(record)


def setup_logging(fmt: Literal["text", "json"] = "text", level: int = logging.INFO) -> None:
    """Route the root logger and uvicorn's through one stderr handler in `fmt`; idempotent.

    Handlers installed by others (pytest's capture) are kept; uvicorn's own are removed so its
    lines come out once, in the same format. uvicorn's access log is silenced: the request
    log middleware writes one richer line (`sipantau.access`) per request instead.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _Handler) or _is_basic_stderr(old):
            root.removeHandler(old)
    handler = _Handler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # chatter per start


class _Handler(logging.StreamHandler[TextIO]):
    """Ours: the one a second `setup_logging` replaces."""


def _is_basic_stderr(handler: logging.Handler) -> bool:
    """A plain stream handler to stderr, as `logging.basicConfig` (the CLI) installs."""
    return type(handler) is logging.StreamHandler and getattr(handler, "stream", None) in (
        sys.stderr,
        sys.__stderr__,
    )
