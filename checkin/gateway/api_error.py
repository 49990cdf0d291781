"""The gateway's refusal: a status, a code from docs/api.md ("Errors"), a message and the field at fault.

Apart from the HTTP side (errors.py turns it into an answer), so request decoding can stay free of the web
framework and be unit-tested as data in, data or refusal out."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, field: str | None = None,
        headers: dict[str, str] | None = None, extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}  # more than one thing wrong: e.g. every problem of a plan, for the page to list

    def body(self) -> dict[str, object]:
        return {**self.extra, "error": self.code, "message": self.message, "field": self.field}


def unavailable() -> ApiError:
    """Redis is unreachable: the kiosk keeps the scan in its journal and sends it again."""
    return ApiError(503, "unavailable", "the scan store is unreachable; keep the scan and retry",
                    headers={"Retry-After": "2"})
