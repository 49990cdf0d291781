"""People (issue 18 item 7): staff accounts listed, added (with a one-time set-password link), revoked and reset,
per event and role. Admins only; each change is in audit_log (and, made in the console, the session's entry)."""

from __future__ import annotations

from datetime import timedelta

import orjson
from aiohttp import web

import checkin.access.accounts as accounts
import checkin.access.staff_sessions as sessions
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import require_admin
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.links import base_url
from checkin.gateway.models.staff import PeopleQuery, PersonBody
from checkin.gateway.requests import clean_text, path_id, read_model
from checkin.gateway.state import state_key
from checkin.keys import EVENT_ID_RE
from checkin.vocabulary import Role

_ROLES = tuple(r.value for r in Role)


async def _audit(request: web.Request, actor: str, action: str, subject: str, detail: dict[str, object]) -> None:
    await request.app[state_key].pool.execute(
        "INSERT INTO audit_log (actor, action, event_id, subject, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
        actor, action, detail.get("event_id"), subject, orjson.dumps(detail).decode())


def _link(request: web.Request, code: str) -> str:
    return sessions.password_url(base_url(request), code)


def _ttl(request: web.Request) -> timedelta:
    return timedelta(hours=request.app[state_key].config.password_link_ttl_h)


async def get_people(request: web.Request) -> web.Response:
    await require_admin(request)
    event_id, role = request.query.get("event") or None, request.query.get("role") or None
    if event_id is not None and not EVENT_ID_RE.match(event_id):
        raise ApiError(400, "invalid_field", "event must be an event id", "event")
    if role is not None and role not in _ROLES:
        raise ApiError(400, "invalid_field", f"role must be one of {', '.join(_ROLES)}", "role")
    async with postgres_guard():
        found = await sessions.people(request.app[state_key].pool, event_id, role)
    return json_response({"people": found})


async def post_person(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    body = await read_model(request, PersonBody)
    role = body.role
    name = clean_text(body.name, "name", required=True, most=100) or ""
    login = clean_text(body.login, "login", required=True, most=100) or ""
    event_id = clean_text(body.event_id, "event_id", required=role != "admin", most=64)
    team_id = clean_text(body.team_id, "team_id", required=role == "team_lead", most=64)
    if event_id is not None and not EVENT_ID_RE.match(event_id):
        raise ApiError(400, "invalid_field", "event_id must be an event id", "event_id")
    pool = request.app[state_key].pool
    async with postgres_guard(), pool.acquire() as conn, conn.transaction():
        if role != "admin" and await conn.fetchval("SELECT 1 FROM events WHERE event_id = $1", event_id) is None:
            raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id")
        try:
            user_id, _ = await accounts.add_user(conn, name, role, event_id if role != "admin" else None, team_id)
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc.args[0]), "team_id") from None
        except ValueError as exc:
            raise ApiError(400, "invalid_field", str(exc)) from None
        await sessions.set_login(conn, user_id, login)
        code = await sessions.make_password_link(conn, user_id, _ttl(request))
    async with postgres_guard():
        await _audit(request, admin.user_id, "user_add", user_id, {"role": role, "event_id": event_id, "login": login})
    return json_response({"user_id": user_id, "name": name, "login": login, "role": role, "event_id": event_id,
                          "team_id": team_id, "link": _link(request, code),
                          "link_hours": request.app[state_key].config.password_link_ttl_h}, 201)


async def post_revoke(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    user_id = path_id(request, "user_id")
    if user_id == admin.user_id:
        raise ApiError(409, "own_account", "an admin may not revoke their own account; another admin can", "user_id")
    pool = request.app[state_key].pool
    async with postgres_guard(), pool.acquire() as conn:
        try:
            await accounts.revoke_user(conn, user_id)
        except LookupError:
            raise ApiError(404, "not_found", f"no user {user_id!r}", "user_id") from None
        await _audit(request, admin.user_id, "user_revoke", user_id, {})
    return json_response({"user_id": user_id, "revoked": True})


async def post_reset(request: web.Request) -> web.Response:
    """A new one-time link (earlier ones stop) and the sign-in unlocked; the old password works until it is used."""
    admin = await require_admin(request)
    user_id = path_id(request, "user_id")
    pool = request.app[state_key].pool
    async with postgres_guard(), pool.acquire() as conn:
        code = await sessions.make_password_link(conn, user_id, _ttl(request))
        await _audit(request, admin.user_id, "user_reset", user_id, {})
    return json_response({"user_id": user_id, "link": _link(request, code),
                          "link_hours": request.app[state_key].config.password_link_ttl_h})


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/v1/people", get_people,
          Doc("Staff accounts, by event and role (admins only)", query=PeopleQuery, auth="user"))
    route(app, "POST", "/api/v1/people", post_person,
          Doc("Add a staff account; answers its one-time set-password link", body=PersonBody, auth="user",
              status=201, errors=("not_found", "login_taken", "csrf")))
    route(app, "POST", "/api/v1/people/{user_id}/revoke", post_revoke,
          Doc("Revoke an account: its token and sessions stop at once", auth="user",
              errors=("not_found", "own_account", "csrf")))
    route(app, "POST", "/api/v1/people/{user_id}/reset", post_reset,
          Doc("A new one-time set-password link (earlier ones stop) and the sign-in unlocked", auth="user",
              errors=("not_found", "csrf")))
