"""Coordinator endpoints: the headcount snapshot as JSON, and where the dashboard finds the live server.

The snapshot is the one the live server sends first on its websocket. The gateway keeps one
LiveState per event and brings it forward from the stream on each request, so a request costs
one XRANGE of what arrived since the last one, not a rebuild.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from checkin.accounts import User, user_for_token
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.state import state_key
from checkin.keys import EVENT_ID_RE
from checkin.live_build import build_state, catch_up, day_start_ms
from checkin.live_view import LiveState, Scope
from checkin.tokens import bearer

STATE_MAX_AGE_MS = 300_000  # rebuild (and so reload the roster) this often


@dataclass
class LiveStates:
    states: dict[str, tuple[LiveState, int]] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)


# Per app, kept beside it rather than in it, so the routes need no setup hook of their own.
_STATES: weakref.WeakKeyDictionary[web.Application, LiveStates] = weakref.WeakKeyDictionary()


async def require_user(request: web.Request, event_id: str, *, team_lead: bool = False) -> User:
    """The admin or coordinator of the event behind the request's token (or, with team_lead, that event's
    team lead, whom the caller must then hold to their own team); 401 without a token, 403 for another."""
    state = request.app[state_key]
    user = await user_for_token(state.pool, bearer(request.headers.get("Authorization")))
    if user is None:
        raise ApiError(401, "unauthorized", "send a coordinator or admin token as 'Authorization: Bearer <token>'")
    lead_here = team_lead and user.role == "team_lead" and user.event_id == event_id
    if not EVENT_ID_RE.match(event_id) or not (user.may_watch(event_id) or lead_here):
        raise ApiError(403, "forbidden", "this account may not see that event")
    return user


def _scope(request: web.Request) -> Scope:
    zone = request.query.get("zone", "")
    team = request.query.get("team", "")
    if len(zone) > 64 or len(team) > 200:
        raise ApiError(400, "invalid_scope", "zone or team is too long", "zone" if len(zone) > 64 else "team")
    return Scope(zone or None, team or None)


async def _current(request: web.Request, event_id: str, now: int) -> LiveState:
    gw = request.app[state_key]
    cache = _STATES.setdefault(request.app, LiveStates())
    async with cache.locks.setdefault(event_id, asyncio.Lock()):
        held = cache.states.get(event_id)
        live = held[0] if held else None
        if (live is None or now - held[1] > STATE_MAX_AGE_MS  # type: ignore[index]
                or day_start_ms(live.roster.tz, now) != live.day_start_ms):
            live = await build_state(gw.pool, gw.redis, gw.keys.event(event_id), now)
            if live is None:
                cache.states.pop(event_id, None)
                raise ApiError(404, "not_found", f"no event {event_id!r}")
            cache.states[event_id] = (live, now)
        else:
            await catch_up(gw.redis, gw.keys.event(event_id), live)
        return live


async def get_headcount(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    await require_user(request, event_id)
    scope = _scope(request)
    now = int(time.time() * 1000)
    live = await _current(request, event_id, now)
    return json_response({
        "type": "snapshot", "event_id": event_id, "event_name": live.roster.name, "tz": live.roster.tz, "stream_id": live.stream_id,
        "scope": scope.as_json(), "server_ms": now, "view": live.view(now, scope), "live": live_config(request),
    })


def live_config(request: web.Request) -> dict[str, Any]:
    """Where the dashboard opens its websocket: the live server's port on the host the page came from."""
    config = request.app[state_key].config
    host = request.url.host or config.host
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    scheme = "wss" if request.scheme == "https" else "ws"
    return {"ws_url": f"{scheme}://{host}:{config.live_port}", "ws_path": "/ws/events/"}


async def get_live_config(request: web.Request) -> web.Response:
    return json_response(live_config(request))


async def _dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/kiosk/dashboard.html")


def setup(app: web.Application) -> None:
    """Extra routes, for when this module is listed in routes.ROUTE_MODULES."""
    app.router.add_get("/api/v1/live-config", get_live_config)
    app.router.add_get("/dashboard", _dashboard)
