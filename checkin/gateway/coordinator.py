"""Coordinator endpoints: headcounts for the events a user may watch."""

from __future__ import annotations

from aiohttp import web

from checkin.accounts import User, user_for_token
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.state import state_key
from checkin.headcount import shape, snapshot
from checkin.keys import EVENT_ID_RE
from checkin.tokens import bearer


async def require_user(request: web.Request, event_id: str) -> User:
    state = request.app[state_key]
    user = await user_for_token(state.pool, bearer(request.headers.get("Authorization")))
    if user is None:
        raise ApiError(401, "unauthorized", "send a coordinator or admin token as 'Authorization: Bearer <token>'")
    if not EVENT_ID_RE.match(event_id) or not user.may_watch(event_id):
        raise ApiError(403, "forbidden", "this account may not see that event")
    return user


async def get_headcount(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    await require_user(request, event_id)
    state = request.app[state_key]
    counts, stream_id = await snapshot(state.redis, state.keys.event(event_id))
    return json_response({"event_id": event_id, "stream_id": stream_id, **shape(counts)})
