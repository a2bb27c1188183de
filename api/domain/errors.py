"""API errors: a stable code, an HTTP status and a message in Bahasa Indonesia."""

from __future__ import annotations

from sipantau.ocr.errors import SipantauError


class ApiError(SipantauError):
    """An error the API answers with `{"error": {"code", "message"}}` and `status`."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


def not_found(what: str = "data") -> ApiError:
    return ApiError(404, "not_found", f"{what} tidak ditemukan")


def forbidden(message: str = "Anda tidak berhak mengakses ini") -> ApiError:
    return ApiError(403, "forbidden", message)


def invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_request", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)
