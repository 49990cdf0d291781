"""JSON bytes into a msgspec model (checkin/gateway/models/), each refusal an ApiError naming what is wrong.

Pure: bytes in, a model or a refusal out, no web framework; requests.py reads the request and calls this."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from checkin.gateway.api_error import ApiError

M = TypeVar("M")
# msgspec's messages end with where the fault is: "Expected `int`, got `str` - at `$.scans[2].seq`".
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")


_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


def _decoder(model: type[M]) -> msgspec.json.Decoder[M]:
    found = _DECODERS.get(model)
    if found is None:
        found = _DECODERS[model] = msgspec.json.Decoder(model)
    return found


def field_error(error: msgspec.ValidationError, where: str = "") -> tuple[str | None, str]:
    """The field a validation error names ("scans[2].seq", or None for the body itself) and what is wrong."""
    match = _AT.match(str(error))
    assert match is not None  # the pattern matches any text
    what, path = match["what"], (match["path"] or "").lstrip(".")
    if missing := _MISSING.match(what):
        path = f"{path}.{missing['name']}" if path else missing["name"]
        what = "is required"
    field = where + path if path else (where.rstrip(".") or None)
    return field, what


def decode_model(data: bytes | msgspec.Raw, model: type[M], *, where: str = "", not_object: str = "invalid_json",
                 object_field: str | None = None) -> M:
    """Bytes into a model; malformed JSON is `invalid_json`, a body of the wrong shape `not_object` (naming
    `object_field`, if given), and a wrong field `invalid_field` naming it (after `where`, e.g. "scans[3].")."""
    try:
        return _decoder(model).decode(data)
    except msgspec.ValidationError as exc:
        field, what = field_error(exc, where)
        if field is None or field == where.rstrip("."):
            raise ApiError(400, not_object, f"the body must be a JSON object: {what}", field or object_field) \
                from None
        raise ApiError(400, "invalid_field", f"{field}: {what}", field) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # msgspec walks nested arrays and objects (also to skip unknown fields) by recursion
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
