"""GET /api/v1/events/{event_id}/team-members: the team leads' page's list of their team, with who is on site.

A team lead gets their own team (naming another is refused); a coordinator or an admin names the team."""

from __future__ import annotations

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from checkin.access.team import team_members
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import operator
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.models import console_ops as models
from checkin.gateway.state import state_key


async def get_team_members(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    who = await operator(request, event_id, ("admin", "coordinator", "team_lead"))
    asked = request.query.get("team_id", "")
    if who.role == "team_lead":
        if asked and asked != who.team_id:
            raise ApiError(403, "forbidden", "a team lead sees their own team only")
        team_id = who.team_id or ""
    elif not asked or len(asked) > 200:
        raise ApiError(400, "invalid_field", "team_id: the team to list", "team_id")
    else:
        team_id = asked
    state = request.app[state_key]
    async with postgres_guard():
        team = await team_members(state.pool, event_id, team_id)
    if team is None:
        raise ApiError(404, "not_found", f"no team {team_id!r} at this event", "team_id")
    ids = [m["volunteer_id"] for m in team["members"]]
    presence: list[bytes | str | None] = []
    if ids:
        try:
            presence = await state.redis.hmget(state.keys.event(event_id).presence, ids)
        except RedisError:
            presence = []  # the list still serves; presence shows as unknown
    for i, member in enumerate(team["members"]):
        raw = presence[i] if i < len(presence) else None
        member["on_site"] = None if not presence else raw is not None and orjson.loads(raw).get("on") == 1
    return json_response({"event_id": event_id, "role": who.role, **team})


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/v1/events/{event_id}/team-members", get_team_members,
          Doc("A team's members on the event and who is on site (a team lead: their own team)",
              query=models.TeamQuery, answer=models.TeamMembers, auth="user",
              errors=("invalid_field", "not_found", "unavailable")))
