"""Bodies every route shares: the error answer."""

from __future__ import annotations

import msgspec


def whole(pattern: str) -> str:
    """A pattern for a whole string, alike in JSON Schema and in Python (which msgspec uses): Python's "$" also
    matches before a final newline, which the lookahead refuses; in JSON Schema it is true anyway."""
    return f"^{pattern}$(?!\n)"


class Error(msgspec.Struct, forbid_unknown_fields=True):
    """Every refusal (docs/api.md, "Errors"); `field` names the input at fault, when one is."""

    error: str
    message: str
    message_zh: str  # the same in Traditional Chinese: the refusal's own wording, or its code's
    field: str | None
    request_id: str


class NoBody(msgspec.Struct):
    """A POST that takes an optional object with no fields it reads."""
