"""Typed errors: each carries a stable code and a message a person can act on (Bahasa Indonesia)."""

from __future__ import annotations


class SipantauError(Exception):
    """Base error: `code` is stable for machines, `message` is for the person holding the phone."""

    code = "error"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class PhotoRejected(SipantauError):
    """The photo cannot be read; the monitor should retake it. `code` says why."""

    def __init__(self, code: str, message: str, *, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.code = code


class TemplateError(SipantauError):
    code = "template_invalid"


class UnknownTemplate(SipantauError):
    code = "template_unknown"
