"""Typed errors every part may raise: a stable code and a message a person can act on.

Shared by the reader, the templates and the service, so that none of them needs another's
module for its errors (`ocr/errors.py` re-exports these beside the reader's own)."""

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


class TemplateError(SipantauError):
    code = "template_invalid"


class UnknownTemplate(SipantauError):
    code = "template_unknown"
