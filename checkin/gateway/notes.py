"""Attention notes of an event (checkin/events/notes.py): listed, set and removed by its coordinator or an
admin. A change rewrites the changed cards' roster records in Redis when the event is loaded there, so the next
check-in answers with it and kiosks get those cards in their next gate-copy delta."""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import RedisError

from checkin.events import note_store
from checkin.events.store import refresh_notes
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import device_token_or_none, operator
from checkin.gateway.errors import ApiError, json_response, postgres_guard, unavailable
from checkin.gateway.models import console_ops as models
from checkin.gateway.requests import path_id, read_model
from checkin.gateway.state import GatewayState, state_key

EDITORS = ("admin", "coordinator")
PREFIX = "/api/v1/events/{event_id}/notes"


async def _editor(request: web.Request) -> tuple[str, str]:
    """The event id and the caller's user id, once the caller is its coordinator or an admin (a kiosk's token is
    refused outright)."""
    event_id = request.match_info["event_id"]
    if device_token_or_none(request) is not None:
        raise ApiError(403, "forbidden", "a kiosk may not read or change attention notes")
    who = await operator(request, event_id, EDITORS)
    return event_id, who.user_id


async def _reload(state: GatewayState, event_id: str) -> bool:
    """Put the changed notes into the event's roster in Redis; False when the event is not loaded there."""
    ev = state.keys.event(event_id)
    try:
        if not await state.redis.exists(ev.meta):
            return False  # opening the event loads the notes with it
        async with postgres_guard(), state.pool.acquire() as conn:
            await refresh_notes(conn, state.redis, state.keys, event_id)
    except RedisError:
        raise unavailable() from None
    return True


async def get_notes(request: web.Request) -> web.Response:
    event_id, _ = await _editor(request)
    state = request.app[state_key]
    async with postgres_guard():
        notes = await note_store.list_notes(state.pool, event_id)
        targets = await note_store.note_targets(state.pool, event_id)
    return json_response({"notes": notes, **targets})


async def put_note(request: web.Request) -> web.Response:
    event_id, user_id = await _editor(request)
    scope = note_store.parse_scope(request.match_info["scope"])
    target_id = path_id(request, "target_id")
    body = await read_model(request, models.NoteBody)
    state = request.app[state_key]
    async with postgres_guard():
        saved = await note_store.set_note(state.pool, event_id, scope, target_id, body.note, user_id)
    return json_response({**saved, "live": await _reload(state, event_id)})


async def delete_note(request: web.Request) -> web.Response:
    event_id, user_id = await _editor(request)
    scope = note_store.parse_scope(request.match_info["scope"])
    target_id = path_id(request, "target_id")
    state = request.app[state_key]
    async with postgres_guard():
        await note_store.delete_note(state.pool, event_id, scope, target_id, user_id)
    return json_response({"deleted": True, "live": await _reload(state, event_id)})


def setup(app: web.Application) -> None:
    route(app, "GET", PREFIX, get_notes,
          Doc("The event's attention notes, and its shifts and teams to put one on", answer=models.Notes,
              auth="user", errors=("unavailable",)))
    route(app, "PUT", PREFIX + "/{scope}/{target_id}", put_note,
          Doc("Set the attention note of a volunteer, a shift or a team (80 characters, nothing personal)",
              body=models.NoteBody, answer=models.NoteSaved, auth="user",
              errors=("invalid_field", "note_too_long", "personal_data", "not_found", "unavailable")))
    route(app, "DELETE", PREFIX + "/{scope}/{target_id}", delete_note,
          Doc("Remove an attention note", answer=models.NoteDeleted, auth="user",
              errors=("invalid_field", "not_found", "unavailable")))
