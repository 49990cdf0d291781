"""Every change made with a console session goes into audit_log with the person who made it.

A middleware rather than an entry in each handler: it covers every route, the ones added later too, and a
handler cannot forget it. It writes what the gateway knows of any request (method, route, path, status) after
the answer is made; handlers that change records keep writing their own detailed entries as before. Changes
made with bearer tokens (kiosks, scripts) are not written here: they are not console work."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from checkin.access.staff_sessions import Staff
from checkin.gateway.auth import SAFE_METHODS, STAFF_KEY
from checkin.gateway.state import state_key

log = logging.getLogger(__name__)
ACTION = "console_change"


@web.middleware
async def audit_session_changes(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)  # outside the error middleware: a refusal arrives here as its answer
    staff: Staff | None = request.get(STAFF_KEY)
    if staff is not None and request.method not in SAFE_METHODS:
        resource = request.match_info.route.resource
        detail = {"method": request.method, "path": request.path, "status": response.status}
        try:
            await request.app[state_key].pool.execute(
                "INSERT INTO audit_log (actor, action, event_id, subject, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
                staff.user_id, ACTION, request.match_info.get("event_id"),
                resource.canonical if resource is not None else request.path, orjson.dumps(detail).decode())
        except Exception as exc:  # the change is made: a failed entry is logged loudly, the answer still goes out
            log.error("audit entry for %s %s by %s not written: %s", request.method, request.path, staff.user_id, exc)
    return response
