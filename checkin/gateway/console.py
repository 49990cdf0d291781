"""The office console's event setup: list and create events, edit an event's fields and policy, its zones, gates
and shifts, open and close it, download and upload its plan. Admin tokens only.

Every edit goes through the event's plan: the page's change is put into the event's plan document, which is
checked by `parse_plan` and written by `apply_plan`, exactly as `checkin plan import` does, so the console has
no rules of its own. A refusal lists every problem, each with the field it is about, so the page can mark them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from aiohttp import web

import checkin.events.console_store as store
from checkin.errors import Conflict
from checkin.events.plan import Problem, parse_plan
from checkin.events.plan_edit import EVENT_FIELDS, local_moment, row_problems, with_event, with_row
from checkin.events.plan_store import PlanRefused, PlanReport
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import require_admin
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.models.console import ROWS, EventEdit, NewEvent, PlanUpload, given
from checkin.gateway.requests import path_id, read_model
from checkin.gateway.state import state_key

ALL = "/api/v1/events"
ONE = ALL + "/{event_id}"
# The fields of a row the page may send, per table; the id is the path's.
ROW_FIELDS = {"zones": ("name",), "gates": ("zone_id", "name", "mode"),
              "shifts": ("zone_id", "name", "starts_at", "ends_at", "required")}


async def _read(request: web.Request, model: type[msgspec.Struct]) -> dict[str, Any]:
    """The fields the page sent; any JSON value, but one the plan's JSON can hold (no integer past 64 bits)."""
    body = given(await read_model(request, model))
    try:
        orjson.dumps(body)
    except TypeError:
        raise ApiError(400, "invalid_field", "a number in the body is too large") from None
    return body


def refused(problems: list[Problem], prefix: str) -> ApiError:
    """400 naming every problem; `field` is the first one's, relative to the piece being edited."""
    listed = row_problems(problems, prefix)
    first = listed[0] if listed else {"field": None, "message": "refused"}
    return ApiError(400, "invalid_plan", f"{len(listed)} problem(s); nothing was written. {first['message']}",
                    first["field"], extra={"problems": [{**p, "path": q.path} for p, q in
                                                        zip(listed, problems, strict=True)]})


def _report(report: PlanReport) -> dict[str, Any]:
    return {"status": report.status, "event": report.event, "changes": report.changes,
            "zones": report.zones.__dict__, "gates": report.gates.__dict__, "shifts": report.shifts.__dict__,
            "assigned": report.assigned, "unassigned": report.unassigned, "roster_size": report.roster_size}


async def _apply(request: web.Request, doc: bytes, actor: str, action: str, subject: str | None,
                 prefix: str) -> PlanReport:
    state = request.app[state_key]
    try:
        async with postgres_guard(), state.pool.acquire() as conn:
            return await store.apply_document(conn, state.redis, state.keys, doc, actor=actor, action=action,
                                              subject=subject)
    except PlanRefused as exc:
        raise refused(exc.problems, prefix) from None


async def list_events(request: web.Request) -> web.Response:
    await require_admin(request)
    async with postgres_guard():
        return json_response({"events": await store.list_events(request.app[state_key].pool)})


async def create_event(request: web.Request) -> web.Response:
    user = await require_admin(request)
    body = await _read(request, NewEvent)
    event = {"id": body.get("id"), **{k: body[k] for k in EVENT_FIELDS if k in body}}
    doc = orjson.dumps({"event": event, "zones": []})
    parsed = parse_plan(doc)  # checked before the event is looked for: a bad id is a problem, not a lookup
    if parsed.plan is None:
        raise refused(parsed.problems, "event")
    async with postgres_guard():
        exists = await request.app[state_key].pool.fetchval("SELECT 1 FROM events WHERE event_id = $1", event["id"])
    if exists:
        raise Conflict(f"there is already an event {event['id']!r}", code="event_exists", field="id")
    await _apply(request, doc, user.user_id, "event_create", None, "event")
    async with postgres_guard():
        return json_response(await store.event_setup(request.app[state_key].pool, str(event["id"])), 201)


async def get_event(request: web.Request) -> web.Response:
    event_id = path_id(request, "event_id")
    await require_admin(request, event_id)
    async with postgres_guard():
        return json_response(await store.event_setup(request.app[state_key].pool, event_id))


async def put_event(request: web.Request) -> web.Response:
    event_id = path_id(request, "event_id")
    user = await require_admin(request, event_id)
    body = await _read(request, EventEdit)
    async with postgres_guard():
        doc = await store.export_plan(request.app[state_key].pool, event_id, assignments=False)
    changed = with_event(doc, {k: body[k] for k in (*EVENT_FIELDS, "policy") if k in body})
    report = await _apply(request, orjson.dumps(changed), user.user_id, "event_update", None, "event")
    async with postgres_guard():
        setup = await store.event_setup(request.app[state_key].pool, event_id)
    return json_response({**setup, "changes": report.changes})


def _status(status: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        event_id = path_id(request, "event_id")
        user = await require_admin(request, event_id)
        state = request.app[state_key]
        async with postgres_guard(), state.pool.acquire() as conn:
            size = await store.set_status(conn, state.redis, state.keys, event_id, status, user.user_id)
        return json_response({"id": event_id, "status": status, "roster_size": size})

    return handler


async def get_plan(request: web.Request) -> web.Response:
    event_id = path_id(request, "event_id")
    await require_admin(request, event_id)
    async with postgres_guard():
        doc = await store.export_plan(request.app[state_key].pool, event_id)
    return web.Response(body=orjson.dumps(doc, option=orjson.OPT_INDENT_2), content_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="plan-{event_id}.json"'})


async def put_plan(request: web.Request) -> web.Response:
    """{"text": the plan file as written}: the file, comments and all, is checked as `checkin plan import` checks
    it; it must be this event's plan."""
    event_id = path_id(request, "event_id")
    user = await require_admin(request, event_id)
    text = (await read_model(request, PlanUpload)).text
    if "\x00" in text:
        raise ApiError(400, "invalid_field", "text must be the plan file's text", "text")
    parsed = parse_plan(text)
    if parsed.plan is None:
        raise refused(parsed.problems, "")
    if parsed.plan.event.event_id != event_id:
        other = parsed.plan.event.event_id
        raise refused([Problem("event.id", f"this is the plan of event {other!r}, not of {event_id!r}",
                               f"這是活動 {other!r} 的計畫，不是 {event_id!r} 的")], "")
    report = await _apply(request, text.encode(), user.user_id, "plan_upload", None, "")
    return json_response(_report(report))


def _row(section: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        event_id = path_id(request, "event_id")
        row_id = path_id(request, "row_id")
        user = await require_admin(request, event_id)
        body = await _read(request, ROWS[section])
        async with postgres_guard():
            doc = await store.export_plan(request.app[state_key].pool, event_id, assignments=False)
        row: dict[str, Any] = {"id": row_id, **{k: body[k] for k in ROW_FIELDS[section] if k in body}}
        for key in ("starts_at", "ends_at"):
            if key in row:
                row[key] = local_moment(row[key], doc["event"]["tz"])
        changed, index = with_row(doc, section, row)
        report = await _apply(request, orjson.dumps(changed), user.user_id, f"{section[:-1]}_save", row_id,
                              f"{section}[{index}]")
        return json_response({"saved": row, "changes": report.changes})

    return handler


def setup(app: web.Application) -> None:
    # Admins only (a token or a session); a change's refusal is 400 invalid_plan naming every problem.
    changes = ("invalid_plan", "not_found", "csrf")
    route(app, "GET", ALL, list_events, Doc("Every event, newest first (the console's list)", auth="user"))
    route(app, "POST", ALL, create_event,
          Doc("Create an event (no zones yet), checked as a plan", body=NewEvent, auth="user", status=201,
              errors=("invalid_plan", "event_exists", "csrf")))
    route(app, "GET", ONE, get_event,
          Doc("One event's setup: details, policy with defaults, zones, gates and shifts", auth="user",
              errors=("not_found",)))
    route(app, "PUT", ONE, put_event,
          Doc("Change an event's details or policy settings", body=EventEdit, auth="user", errors=changes))
    route(app, "POST", ONE + "/open", _status("open"),
          Doc("Open the event: its gates accept scans", auth="user", errors=("not_found", "csrf")))
    route(app, "POST", ONE + "/close", _status("closed"),
          Doc("Close the event: its gates refuse scans (event_closed)", auth="user", errors=("not_found", "csrf")))
    route(app, "GET", ONE + "/plan", get_plan,
          Doc("The event's plan file (as `checkin plan export` writes it)", auth="user", errors=("not_found",)))
    route(app, "PUT", ONE + "/plan", put_plan,
          Doc("Upload a plan file for this event, checked as `checkin plan import` checks it", body=PlanUpload,
              auth="user", errors=changes))
    for section, model in ROWS.items():
        route(app, "PUT", f"{ONE}/{section}/{{row_id}}", _row(section),
              Doc(f"Add or change one of the event's {section}, checked as part of its plan", body=model,
                  auth="user", errors=changes))
