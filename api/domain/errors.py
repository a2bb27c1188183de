"""Domain errors: a kind of refusal (the class), a stable `code`, a message in Bahasa Indonesia.

The domain says what went wrong; only the web edge (`api/web/errors.py`) knows HTTP and turns
each kind into a status.
"""

from __future__ import annotations

from sipantau.errors import SipantauError


class DomainError(SipantauError):
    """A request the service refuses; `code` is stable for clients, `message` is for people.

    `retry_after` (seconds) says when trying again may succeed."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class Invalid(DomainError):
    """The request itself is wrong: a value out of range, an unknown race, a bad file."""

    code = "invalid_request"


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    """The user is known but may not do this."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """No user, or the login failed."""

    code = "unauthenticated"


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate, a form someone else holds)."""

    code = "conflict"


class TooLarge(DomainError):
    code = "payload_too_large"


class Unsupported(DomainError):
    """Bytes of a kind the service does not take (not an image)."""

    code = "not_an_image"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"


class Unavailable(DomainError):
    """Something the service needs cannot be reached now; the request may succeed later."""

    code = "unavailable"


class Internal(DomainError):
    """The service is at fault (damaged data, a step that failed), not the request."""

    code = "internal"


def not_found(what: str = "data") -> NotFound:
    return NotFound(f"{what} tidak ditemukan")


def forbidden(message: str = "Anda tidak berhak mengakses ini") -> Forbidden:
    return Forbidden(message)


def invalid(message: str) -> Invalid:
    return Invalid(message)


def conflict(message: str) -> Conflict:
    return Conflict(message)
