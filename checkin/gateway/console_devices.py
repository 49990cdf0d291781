"""The console's devices page: enrolling a kiosk (a one-time link and its QR code, with the PIN the office
chose), the event's devices with their gate, last scan and journal watermark, and renaming, moving or
revoking one. Admins only; every change is audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from checkin.access.accounts import move_device
from checkin.access.audit import audit
from checkin.access.devices import list_devices, rename_device, revoke_device_audited
from checkin.access.enrollment import create_code, enrollment_link
from checkin.access.operations import PIN_RE, hash_pin
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.console_common import admin_of, read_object, read_text, reason
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.links import base_url
from checkin.gateway.qr import link_svg
from checkin.gateway.requests import path_id
from checkin.gateway.state import state_key
from checkin.tokens import token_hash

PREFIX = "/api/v1/events/{event_id}"


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


async def get_devices(request: web.Request) -> web.Response:
    event_id, _ = await admin_of(request)
    state = request.app[state_key]
    async with postgres_guard():
        devices = await list_devices(state.pool, event_id)
    try:
        seen = await state.redis.hgetall(state.keys.event(event_id).seen)
    except RedisError:
        seen = {}  # the list still stands without the last contacts
    polls = {(k.decode() if isinstance(k, bytes) else str(k)): _poll(v) for k, v in seen.items()}
    return json_response({"devices": [{**_json(d), **polls.get(d["device_id"], _poll(None))} for d in devices]})


def _poll(raw: bytes | str | None) -> dict[str, Any]:
    """The kiosk's last poll: when, its page version and its journal as it reported them (None: never polled;
    a bare number is a poll from a gateway before the report)."""
    if raw is None:
        return {"last_contact": None, "app_version": None, "unsent": None, "held": None}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, int):
        value = {"t": value}
    if not isinstance(value, dict) or not isinstance(value.get("t"), int):
        return _poll(None)
    return {"last_contact": _iso_ms(value["t"]), "app_version": value.get("v"), "unsent": value.get("u"),
            "held": value.get("h")}


def _iso_ms(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms is not None else None


async def post_enrollment_link(request: web.Request) -> web.Response:
    event_id, who = await admin_of(request)
    body = await read_object(request)
    gate_id = read_text(body, "gate_id", required=True, most=64) or ""
    label = read_text(body, "label", required=False, most=100) or ""
    pin = body.get("pin")
    if pin in (None, ""):
        pin = None
    elif not isinstance(pin, str) or not PIN_RE.match(pin):
        raise ApiError(400, "invalid_field", "pin, when given, is 4 to 8 digits", "pin")
    state = request.app[state_key]
    pin_hash = await asyncio.to_thread(hash_pin, pin) if pin else None  # PBKDF2: not on the event loop
    async with postgres_guard(), state.pool.acquire() as conn, conn.transaction():
        try:
            code = await create_code(conn, event_id, gate_id, label, pin_hash=pin_hash)
        except LookupError:
            raise ApiError(400, "unknown_gate", "the event has no such gate", "gate_id") from None
        expires = await conn.fetchval("SELECT expires_at FROM enrollment_codes WHERE code_hash = $1", token_hash(code))
        await audit(conn, who.user_id, "enrollment_link", event_id, gate_id, {"label": label, "pin_set": bool(pin)})
    link = enrollment_link(base_url(request), code)
    return json_response({"gate_id": gate_id, "label": label, "link": link, "pin_set": bool(pin),
                          "expires_at": expires.isoformat(), "svg": await asyncio.to_thread(link_svg, link)},
                         201, headers={"Cache-Control": "no-store"})


async def post_rename(request: web.Request) -> web.Response:
    event_id, who = await admin_of(request)
    device_id = path_id(request, "device_id")
    label = read_text(await read_object(request), "label", required=True, most=100) or ""
    async with postgres_guard(), request.app[state_key].pool.acquire() as conn:
        await rename_device(conn, event_id, device_id, label, who.user_id)
    return json_response({"device_id": device_id, "label": label})


async def post_move(request: web.Request) -> web.Response:
    event_id, who = await admin_of(request)
    device_id = path_id(request, "device_id")
    body = await read_object(request)
    gate_id = read_text(body, "gate_id", required=True, most=64) or ""
    why = reason(body)
    state = request.app[state_key]
    async with postgres_guard(), state.pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM devices WHERE device_id = $1 AND event_id = $2", device_id, event_id):
            raise ApiError(404, "not_found", "the event has no such device", "device_id")
        try:
            left = await move_device(conn, state.redis, state.keys, device_id, gate_id, who.user_id, why)
        except LookupError:
            raise ApiError(400, "unknown_gate", "the event has no such gate", "gate_id") from None
        except ValueError as exc:  # revoked, or already there
            raise ApiError(409, "not_movable", str(exc), "gate_id") from None
    return json_response({"device_id": device_id, "from_gate": left, "gate_id": gate_id})


async def post_revoke(request: web.Request) -> web.Response:
    event_id, who = await admin_of(request)
    device_id = path_id(request, "device_id")
    why = reason(await read_object(request))
    state = request.app[state_key]
    async with postgres_guard(), state.pool.acquire() as conn:
        await revoke_device_audited(conn, state.redis, state.keys, event_id, device_id, who.user_id, why)
    return json_response({"device_id": device_id, "revoked": True})


def setup(app: web.Application) -> None:
    body = ("invalid_json", "invalid_field", "not_found")
    route(app, "GET", PREFIX + "/devices", get_devices,
          Doc("The event's devices: gate, status, last contact, last scan received, journal watermark", auth="user",
              errors=("not_found",)))
    route(app, "POST", PREFIX + "/enrollment-links", post_enrollment_link,
          Doc("A one-time enrolment link for a gate (with the PIN the kiosk will get) and its QR code; audited",
              auth="user", status=201, errors=(*body, "unknown_gate")))
    route(app, "POST", PREFIX + "/devices/{device_id}/rename", post_rename,
          Doc("A device renamed; audited", auth="user", errors=body))
    route(app, "POST", PREFIX + "/devices/{device_id}/move", post_move,
          Doc("A device moved to another gate of the event, with a reason; audited", auth="user",
              errors=(*body, "unknown_gate", "not_movable")))
    route(app, "POST", PREFIX + "/devices/{device_id}/revoke", post_revoke,
          Doc("A device revoked (its next scan is refused), with a reason; audited", auth="user", errors=body))
