"""Refusals the domain names: a typed error carrying a machine code, a message for people and, when one input is
at fault, the field. The gateway maps each kind to an HTTP status in one place (checkin/gateway/errors.py), and the
CLI prints the message; no handler translates them one by one."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    kind: str = "invalid"  # invalid | forbidden | not_found | conflict | gone
    default_code: ClassVar[str] = "invalid_field"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.zh = zh  # the same in Traditional Chinese, where a page or file check shows it to the office


class Invalid(DomainError, ValueError):
    """An input that can never be right (a date outside the event, a malformed value)."""


class Forbidden(DomainError):
    kind = "forbidden"
    default_code = "forbidden"


class NotFound(DomainError, LookupError):
    kind = "not_found"
    default_code = "not_found"


class Conflict(DomainError):
    """Right in itself, but not in the present state (an approved day, no hours to certify yet)."""

    kind = "conflict"
    default_code = "conflict"


class Gone(DomainError):
    kind = "gone"
    default_code = "gone"
