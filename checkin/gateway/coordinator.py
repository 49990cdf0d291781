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

from checkin.gateway.api_doc import Doc, page, route
from checkin.gateway.auth import require_user
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.links import websocket_url
from checkin.gateway.models.live import Headcount, HeadcountQuery, LiveConfig
from checkin.gateway.requests import read_query
from checkin.gateway.state import state_key
from checkin.live.build import build_state, catch_up
from checkin.live.view import LiveState, Scope

STATE_MAX_AGE_MS = 300_000  # rebuild (and so reload the roster) this often


@dataclass
class LiveStates:
    states: dict[str, tuple[LiveState, int]] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)


# Per app, kept beside it rather than in it, so the routes need no setup hook of their own.
_STATES: weakref.WeakKeyDictionary[web.Application, LiveStates] = weakref.WeakKeyDictionary()


def _scope(request: web.Request) -> Scope:
    query = read_query(request, HeadcountQuery)
    return Scope(query.zone or None, query.team or None)


async def _current(request: web.Request, event_id: str, now: int) -> LiveState:
    gw = request.app[state_key]
    cache = _STATES.setdefault(request.app, LiveStates())
    async with cache.locks.setdefault(event_id, asyncio.Lock()):
        held = cache.states.get(event_id)
        live = held[0] if held else None
        if live is None or now - held[1] > STATE_MAX_AGE_MS:  # type: ignore[index]
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
    """Where the dashboard opens its websocket: the live server's port on the host the page came from,
    when that host is this gateway's (see gateway/links.py)."""
    return {"ws_url": websocket_url(request, request.app[state_key].config.live_port), "ws_path": "/ws/events/"}


async def get_live_config(request: web.Request) -> web.Response:
    return json_response(live_config(request))


async def _dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/kiosk/dashboard.html")


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/v1/events/{event_id}/headcount", get_headcount,
          Doc("The headcount snapshot (the live server's first message)", answer=Headcount, query=HeadcountQuery,
              auth="user", errors=("not_found",)))
    route(app, "GET", "/api/v1/live-config", get_live_config,
          Doc("Where the dashboard opens its websocket", answer=LiveConfig))
    page(app, "/dashboard", _dashboard)
