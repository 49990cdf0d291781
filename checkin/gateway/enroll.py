"""Kiosk enrollment and device self-description: POST /api/v1/enroll, GET /api/v1/device, GET /api/v1/time."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from aiohttp import web
from redis.exceptions import RedisError

from checkin.card_store import valid_public_keys
from checkin.cards import public_key_bytes
from checkin.enrollment import DeviceInfo, EnrollmentRefused, device_for_token, redeem_code
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.state import GatewayState, state_key
from checkin.operations import PIN_RE, hash_pin
from checkin.tokens import DeviceToken, bearer, parse_device_token

_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_REFUSED_STATUS = {"unknown_code": 404, "used_code": 409, "expired_code": 410, "event_closed": 409}


def server_ms() -> int:
    return int(time.time() * 1000)


@asynccontextmanager
async def _postgres() -> AsyncIterator[None]:
    """Postgres down answers 503 (retry later), never 500."""
    try:
        yield
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        raise ApiError(503, "unavailable", "the database is unreachable; retry shortly",
                       headers={"Retry-After": "5"}) from None


def _info_json(info: DeviceInfo) -> dict[str, Any]:
    return {"device_id": info.device_id, "event_id": info.event_id, "event_name": info.event_name,
            "gate_id": info.gate_id, "gate_name": info.gate_name}


async def post_enroll(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise ApiError(400, "invalid_field", "code is required: the code from the enrollment link", "code")
    pin = body.get("pin")
    if pin is not None and (not isinstance(pin, str) or not PIN_RE.match(pin)):
        raise ApiError(400, "invalid_field", "pin, when given, is 4 to 8 digits", "pin")
    state = request.app[state_key]
    async with _postgres(), state.pool.acquire() as conn:
        try:
            token, info = await redeem_code(conn, state.redis, state.keys, code, hash_pin(pin) if pin else None)
        except EnrollmentRefused as refused:
            raise ApiError(_REFUSED_STATUS[refused.code], refused.code, refused.message, "code") from None
        keys = await valid_public_keys(conn)
    public_keys = {kid: base64.b64encode(public_key_bytes(key)).decode("ascii") for kid, key in keys.items()}
    return json_response({"device_token": token, **_info_json(info), "public_keys": public_keys,
                          "pin_set": bool(pin), "server_time": server_ms()}, 201)


async def get_device(request: web.Request) -> web.Response:
    raw = bearer(request.headers.get("Authorization"))
    if raw is None:
        raise ApiError(401, "missing_token", "send the device token as 'Authorization: Bearer <token>'")
    token = parse_device_token(raw) if raw.isascii() else None
    if token is None:
        raise ApiError(401, "bad_token", "the device token is malformed")
    state = request.app[state_key]
    async with _postgres():
        info = await device_for_token(state.pool, token.event_id, token.device_id, token.text)
    if info is None:
        raise ApiError(401, "bad_token", "this device token was not issued here")
    if info.status != "active":
        raise ApiError(403, "device_revoked", "this device's token was revoked; enroll it again")
    return json_response({**_info_json(info), **await _live_fields(state, token, info.gate_id),
                          "server_time": server_ms()})


async def _live_fields(state: GatewayState, token: DeviceToken, gate_id: str) -> dict[str, object]:
    """What a kiosk polls for: its durable watermark (to empty its journal), the headcount, its gate's mode."""
    ev = state.keys.event(token.event_id)
    try:
        async with state.redis.pipeline(transaction=False) as pipe:
            pipe.hget(ev.durable, token.device_id)
            pipe.hget(ev.counts, "on_site")
            pipe.hget(ev.gates, gate_id)
            durable, on_site, gate = await pipe.execute()
    except RedisError:
        return {}  # the device info still stands; the kiosk keeps its journal until it hears more
    return {"durable_seq": int(durable or 0), "on_site": int(on_site or 0),
            "gate_mode": orjson.loads(gate).get("m") if gate else None}


async def get_time(request: web.Request) -> web.Response:
    return json_response({"server_time": server_ms()})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/enroll", post_enroll)
    app.router.add_get("/api/v1/device", get_device)
    app.router.add_get("/api/v1/time", get_time)
