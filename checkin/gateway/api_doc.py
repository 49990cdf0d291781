"""Where a route and its description are added together: `route(app, method, path, handler, Doc(...))`.

Every route of the gateway goes through `route` (or `page`, for the kiosk's pages and redirects, which are
not the API); checkin/gateway/openapi.py builds the OpenAPI document from what these record, and
tests/integration/test_api_document.py fails for a route added any other way. A new route is one call:

    route(app, "GET", PREFIX + "/notes", get_notes,
          Doc("The event's notes", answer=Notes, auth="user", errors=("not_found",)))

with `answer` (and `body`, `query`) msgspec Structs from checkin/gateway/models/ and `errors` codes from
checkin/error_codes.STATUS (the token's own refusals come with `auth`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from checkin.error_codes import AUTH_ERRORS, STATUS

Auth = Literal["none", "device", "user", "device_or_user", "card_link"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Doc:
    """What the API document says of one route."""

    summary: str
    answer: type | None = None  # the success body's Struct; None: no schema (say what it is in `media`)
    body: type | None = None  # the JSON request body's Struct
    query: type | None = None  # a Struct whose fields are the query parameters
    errors: tuple[str, ...] = ()  # beyond the token's (see `auth`) and every route's own (openapi.COMMON)
    auth: Auth = "none"
    status: int = 200
    also: tuple[int, ...] = ()  # other statuses answered with the same body (201 for new, 503 not ready)
    media: str = "application/json"  # text/csv, application/pdf, text/html, text/plain, image/x-icon
    refs: tuple[type, ...] = ()  # Structs the others name only by reference (a union's members)
    description: str = ""


docs_key = web.AppKey("api_docs", dict)
pages_key = web.AppKey("api_pages", set)


def route(app: web.Application, method: str, path: str, handler: Handler, doc: Doc) -> None:
    """Add the route to the router and its description to the document."""
    unknown = [code for code in doc.errors + AUTH_ERRORS[doc.auth] if code not in STATUS]
    if unknown:  # a code the document cannot give a status for: add it to error_codes and docs/api.md
        raise ValueError(f"{method} {path}: unknown error codes {unknown}")
    added = app.router.add_get(path, handler) if method == "GET" else app.router.add_route(method, path, handler)
    assert added.resource is not None
    app.setdefault(docs_key, {})[(method, added.resource.canonical)] = doc


def page(app: web.Application, path: str, handler: Handler) -> None:
    """A page or a redirect for people's browsers: served, but not part of the API document."""
    added = app.router.add_get(path, handler)
    assert added.resource is not None
    app.setdefault(pages_key, set()).add(added.resource.canonical)
