"""GET /api/v1/openapi.json: the OpenAPI 3.1 document, generated from the routes the app has and their
descriptions (api_doc.route) with the schemas of their msgspec models. docs/api.md is its prose twin."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import msgspec
import orjson
from aiohttp import web

from checkin.error_codes import AUTH_ERRORS, STATUS
from checkin.gateway.address_limits import ROUTES as BUDGETED
from checkin.gateway.api_doc import Doc, docs_key, route
from checkin.gateway.models.common import Error
from checkin.gateway.models.openapi import OpenApiDocument

REF = "#/components/schemas/{name}"
# Every route may meet these: a NUL anywhere in the input (inputs.py) is invalid_field, a body too big or
# too slow is refused before any handler, and a Postgres or Redis outage answers 503 with Retry-After.
COMMON = ("invalid_field",)
WITH_BODY = ("invalid_json", "body_too_large", "request_timeout")
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "none": [], "device": [{"deviceToken": []}], "user": [{"userToken": []}],
    "device_or_user": [{"deviceToken": []}, {"userToken": []}], "card_link": [{"cardLink": []}, {"userToken": []}],
}
SCHEMES = {
    "deviceToken": {"type": "http", "scheme": "bearer",
                    "description": "<event_id>.<device_id>.<secret>, from POST /api/v1/enroll or `checkin device enroll`"},
    "userToken": {"type": "http", "scheme": "bearer",
                  "description": "a person's token: admin, coordinator or team lead (docs/security.md)"},
    "cardLink": {"type": "apiKey", "in": "query", "name": "token",
                 "description": "the t= part of a volunteer's card link (also taken as a Bearer token)"},
}
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _ref(model: type) -> dict[str, str]:
    return {"$ref": REF.format(name=model.__name__)}


def _errors(method: str, path: str, doc: Doc) -> dict[int, list[str]]:
    codes = [*COMMON, *AUTH_ERRORS[doc.auth], *doc.errors]
    if doc.body is not None:
        codes += WITH_BODY
    if path in BUDGETED:
        codes.append("rate_limited")
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in dict.fromkeys(codes):
        by_status[STATUS[code]].append(code)
    return dict(sorted(by_status.items()))


def _parameters(path: str, doc: Doc, queries: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                                    for name in _PATH_PARAM.findall(path)]
    if doc.query is not None:
        shape = queries[doc.query.__name__]
        for name, schema in shape.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in shape.get("required", ()),
                           "schema": schema})
    return params


def _operation(method: str, path: str, handler: str, doc: Doc, queries: dict[str, Any]) -> dict[str, Any]:
    content = {doc.media: {"schema": _ref(doc.answer) if doc.answer else {}}}
    answers: dict[str, Any] = {str(s): {"description": doc.summary, "content": content}
                               for s in (doc.status, *doc.also)}
    for status, codes in _errors(method, path, doc).items():
        if str(status) in answers:
            continue  # e.g. /readyz: its 503 is its own body, not an error
        error = {"allOf": [_ref(Error), {"properties": {"error": {"enum": codes}}}]}
        answers[str(status)] = {"description": ", ".join(codes),
                                "content": {"application/json": {"schema": error}}}
    operation: dict[str, Any] = {"summary": doc.summary, "operationId": handler,
                                 "security": SECURITY[doc.auth], "responses": answers}
    if doc.description:
        operation["description"] = doc.description
    if params := _parameters(path, doc, queries):
        operation["parameters"] = params
    if doc.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(doc.body)}}}
    return operation


def document(app: web.Application) -> dict[str, Any]:
    """The document for the routes this app has: each described one, with every model it names."""
    handlers = {(r.method, r.resource.canonical): getattr(r.handler, "__name__", "handler")
                for r in app.router.routes() if r.resource is not None}
    docs: dict[tuple[str, str], Doc] = app.get(docs_key, {})
    models = {m for doc in docs.values() for m in (doc.answer, doc.body, doc.query, *doc.refs) if m is not None}
    _, components = msgspec.json.schema_components(sorted({Error, *models}, key=lambda m: m.__name__),
                                                   ref_template=REF)
    # A query's fields are parameters, not a schema of their own.
    queries: dict[str, Any] = {}
    for doc in docs.values():
        if doc.query is not None and doc.query.__name__ not in queries:
            queries[doc.query.__name__] = components.pop(doc.query.__name__)
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    seen_ids: set[str] = set()
    for (method, path), doc in sorted(docs.items(), key=lambda item: (item[0][1], item[0][0])):
        op_id = handlers.get((method, path), "handler")
        if op_id in seen_ids:  # two modules may name their handlers alike
            op_id = f"{op_id}_{len(seen_ids)}"
        seen_ids.add(op_id)
        paths[path][method.lower()] = _operation(method, path, op_id, doc, queries)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Volunteer check-in gateway", "version": "1",
                 "description": "Generated from the gateway's routes and their msgspec models "
                                "(checkin/gateway/api_doc.py, checkin/gateway/models/). Prose: docs/api.md."},
        "paths": dict(paths),
        "components": {"schemas": components, "securitySchemes": SCHEMES},
    }


_CACHE = web.AppKey("openapi_bytes", list)


async def get_openapi(request: web.Request) -> web.Response:
    cached: list[bytes] = request.app[_CACHE]
    if not cached:  # the router is frozen once serving: built once per app, at the first request
        cached.append(orjson.dumps(document(request.app)))
    return web.Response(body=cached[0], content_type="application/json")


def setup(app: web.Application) -> None:
    app[_CACHE] = []
    route(app, "GET", "/api/v1/openapi.json", get_openapi,
          Doc("This document: every route with its models and error codes", answer=OpenApiDocument))
