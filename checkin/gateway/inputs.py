"""Input no handler can take: a NUL character anywhere in a path id, a query parameter or a JSON body.

Postgres stores no NUL in text, so such input failed deep in a query and was answered as the database
being down (503, retry): a client would retry bad input forever. Refused here, once, with a 400 naming
the field, before any handler sees it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from checkin.gateway.errors import ApiError

NUL = "\x00"
_JSON_NUL = b"\\u0000"  # how JSON writes a NUL in a string (a raw NUL byte is not valid JSON at all)


def nul_path(value: object, path: str = "") -> str | None:
    """Where in a parsed JSON value a key or a string holds a NUL ("scans[2].gate_id"), or None."""
    if isinstance(value, str):
        return path or "body" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return inner
            found = nul_path(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for n, item in enumerate(value):
            found = nul_path(item, f"{path}[{n}]")
            if found is not None:
                return found
    return None


def _refuse(field: str) -> ApiError:
    return ApiError(400, "invalid_field", f"{field} may not contain a NUL character", field.replace(NUL, "\\0"))


@web.middleware
async def input_guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    for name, value in request.match_info.items():
        if NUL in value:
            raise _refuse(name)
    for name, value in request.query.items():
        if NUL in name or NUL in value:
            raise _refuse(name)
    if request.body_exists:
        raw = await request.read()  # aiohttp keeps the bytes: the handler's own read() gets them again
        if _JSON_NUL in raw:  # a cheap test first; only a body that may hold a NUL is parsed here
            try:
                found = nul_path(orjson.loads(raw))
            except orjson.JSONDecodeError:
                found = None  # not JSON: the handler says so
            if found is not None:
                raise _refuse(found)
    return await handler(request)
