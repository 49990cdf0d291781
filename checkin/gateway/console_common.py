"""What the console's route groups share: the admin behind the request, the event it names, an uploaded
file, a reason. Setup pages are an admin's: a coordinator or a team lead gets 403."""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast

import asyncpg
from aiohttp import web

import checkin.access.operations as ops
from checkin.events.store import load_event
from checkin.gateway.auth import operator
from checkin.gateway.errors import ApiError, postgres_guard
from checkin.gateway.requests import clean_text, read_model
from checkin.gateway.state import GatewayState, state_key


async def admin_of(request: web.Request) -> tuple[str, ops.Operator]:
    """(event id, the admin); 404 naming event_id when there is no such event."""
    event_id = request.match_info["event_id"]
    who = await operator(request, event_id, ("admin",))
    async with postgres_guard():
        found = await request.app[state_key].pool.fetchval("SELECT 1 FROM events WHERE event_id = $1", event_id)
    if not found:
        raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id")
    return event_id, who


async def read_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; the setup routes then check each field, naming the one at fault."""
    return await read_model(request, cast("type[dict[str, Any]]", dict[str, Any]))


def read_text(body: dict[str, Any], name: str, *, required: bool, most: int = 200) -> str | None:
    """A text field of the body, stripped; 400 naming it when missing (if required), not text or too long."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"{name} must be text", name)
    return clean_text(value, name, required=required, most=most)


def uploaded(body: dict[str, Any], name: str = "file") -> bytes:
    """A file sent in a JSON body as base64 (the pages read it with FileReader)."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid_field", f"{name} is required: the file's bytes in base64", name)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_field", f"{name} is not base64", name) from None
    if not data:
        raise ApiError(400, "invalid_field", f"{name} is empty", name)
    return data


def reason(body: dict[str, Any]) -> str:
    """Every card or device change says why: the reason goes to the audit log."""
    return read_text(body, "reason", required=True, most=200) or ""


async def reload_if_live(conn: asyncpg.Connection, state: GatewayState, event_id: str) -> None:
    """An open (or closed) event's gates read Redis: a change to its roster or cards is copied there at once.
    A draft is copied when it opens."""
    if await conn.fetchval("SELECT status FROM events WHERE event_id = $1", event_id) != "draft":
        await load_event(conn, state.redis, state.keys, event_id)
