"""Reading a request, once for every handler: the JSON body into a msgspec model (checkin/gateway/models/), its
text fields and the ids in the path, each refusal a 400 that names what is wrong (`invalid_json`, `invalid_field`)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from checkin.gateway.api_error import ApiError
from checkin.gateway.decoding import M, decode_model, field_error

__all__ = ["decode_model"]  # handlers reach the pure decoder through here too


async def read_model(request: web.Request, model: type[M], *, not_object: str = "invalid_json",
                     object_field: str | None = None) -> M:
    """The body decoded into a model (checkin/gateway/models/), refused with a 400 naming the field."""
    return decode_model(await request.read(), model, not_object=not_object, object_field=object_field)


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as a model ("20" read as 20 where the model says int), refused like a body field."""
    try:
        return msgspec.convert(dict(request.query), model, strict=False)
    except msgspec.ValidationError as exc:
        field, what = field_error(exc)
        raise ApiError(400, "invalid_field", f"{field}: {what}", field) from None


def clean_text(value: str | None, name: str, *, required: bool, most: int = 200) -> str | None:
    """A decoded text field, stripped; 400 naming the field when missing (if required) or too long."""
    if value is None or not value.strip():
        if required:
            raise ApiError(400, "invalid_field", f"{name} is required", name)
        return None
    if len(value) > most:
        raise ApiError(400, "invalid_field", f"{name} must be text of at most {most} characters", name)
    if "\x00" in value:  # Postgres takes no NUL in text: refused here rather than failing the insert with a 500
        raise ApiError(400, "invalid_field", f"{name} may not contain a NUL character", name)
    return value.strip()


def path_id(request: web.Request, name: str) -> str:
    """An id from the URL (or the query string), checked like a body field."""
    value = request.match_info.get(name) or request.query.get(name) or ""
    if not value or len(value) > 200 or "\x00" in value:
        raise ApiError(400, "invalid_field", f"{name} must be an id of 1 to 200 characters without a NUL", name)
    return value
