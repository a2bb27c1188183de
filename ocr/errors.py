"""Typed errors: each carries a stable code and a message a person can act on (Bahasa Indonesia)."""

from __future__ import annotations

from sipantau.errors import SipantauError, TemplateError, UnknownTemplate

__all__ = ["PhotoRejected", "SipantauError", "TemplateError", "UnknownTemplate"]


class PhotoRejected(SipantauError):
    """The photo cannot be read; the monitor should retake it. `code` says why."""

    def __init__(self, code: str, message: str, *, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.code = code
