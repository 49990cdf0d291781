"""Kiosk enrollment and device self-description: POST /api/v1/enroll, GET /api/v1/device, GET /api/v1/time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from checkin.access.enrollment import (
    DeviceInfo,
    EnrollmentRefused,
    code_is_open,
    office_pin_hash,
    redeem_code,
)
from checkin.access.operations import hash_pin, pin_matches
from checkin.cards.format import public_keys_text
from checkin.cards.store import valid_public_keys
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import enrolled_device
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.models.device import Device, DevicePoll, EnrollBody, Enrolled
from checkin.gateway.models.health import Time
from checkin.gateway.requests import read_model, read_query
from checkin.gateway.state import GatewayState, state_key
from checkin.tokens import DeviceToken

_REFUSED_STATUS = {"unknown_code": 404, "used_code": 409, "expired_code": 410, "event_closed": 409}


def server_ms() -> int:
    return int(time.time() * 1000)


def _info_json(info: DeviceInfo) -> dict[str, Any]:
    return {"device_id": info.device_id, "event_id": info.event_id, "event_name": info.event_name,
            "gate_id": info.gate_id, "gate_name": info.gate_name}


async def post_enroll(request: web.Request) -> web.Response:
    # Not an object: the code is what is missing, and the answer names that field.
    body = await read_model(request, EnrollBody, not_object="invalid_field", object_field="code")
    code, pin = body.code, body.pin
    state = request.app[state_key]
    async with postgres_guard(), state.pool.acquire() as conn:
        # Hashing a PIN costs about 0.15 s of CPU: only for a code that exists (never for a guessed one, which
        # anyone may send), and in a thread, so the gateway keeps answering meanwhile.
        pin_hash = None
        if pin and await code_is_open(conn, code):
            office = await office_pin_hash(conn, code)
            if office is None:
                pin_hash = await asyncio.to_thread(hash_pin, pin)
            elif not await asyncio.to_thread(pin_matches, office, pin):
                # The office chose this kiosk's PIN with the link: a different one typed at the gate would
                # silently replace it. Refused, and the code stays usable.
                raise ApiError(403, "wrong_pin", "this is not the PIN the office set with this enrollment link", "pin")
        try:
            token, info = await redeem_code(conn, state.redis, state.keys, code, pin_hash)
        except EnrollmentRefused as refused:
            raise ApiError(_REFUSED_STATUS[refused.code], refused.code, refused.message, "code") from None
        keys = await valid_public_keys(conn)
    return json_response({"device_token": token, **_info_json(info), "public_keys": public_keys_text(keys),
                          "pin_set": bool(pin), "server_time": server_ms()}, 201)


async def get_device(request: web.Request) -> web.Response:
    token, info = await enrolled_device(request)
    poll = read_query(request, DevicePoll)
    state = request.app[state_key]
    return json_response({**_info_json(info), **await _live_fields(state, token, info.gate_id, poll),
                          "server_time": server_ms()})


async def _live_fields(state: GatewayState, token: DeviceToken, gate_id: str,
                       poll: DevicePoll) -> dict[str, object]:
    """What a kiosk polls for: its durable watermark (to empty its journal), the headcount, its gate's mode;
    the poll itself is noted as the device's last contact, with the page version and journal it reports
    (the console's device list)."""
    ev = state.keys.event(token.event_id)
    try:
        async with state.redis.pipeline(transaction=False) as pipe:
            pipe.hget(ev.durable, token.device_id)
            pipe.hget(ev.counts, "on_site")
            pipe.hget(ev.gates, gate_id)
            pipe.hset(ev.seen, token.device_id,  # the office's "last contact", in the same round trip
                      orjson.dumps({"t": server_ms(), "v": poll.app, "u": poll.unsent, "h": poll.held}))
            durable, on_site, gate, _ = await pipe.execute()
    except RedisError:
        return {}  # the device info still stands; the kiosk keeps its journal until it hears more
    return {"durable_seq": int(durable or 0), "on_site": int(on_site or 0),
            "gate_mode": orjson.loads(gate).get("m") if gate else None}


async def get_time(request: web.Request) -> web.Response:
    return json_response({"server_time": server_ms()})


def setup(app: web.Application) -> None:
    route(app, "POST", "/api/v1/enroll", post_enroll,
          Doc("Enrol a kiosk with a one-time code: its device token, gate and the card keys", body=EnrollBody,
              answer=Enrolled, status=201,
              errors=("unknown_code", "used_code", "expired_code", "event_closed", "wrong_pin", "unavailable")))
    route(app, "GET", "/api/v1/device", get_device,
          Doc("The device's own record, its durable watermark and the headcount; the kiosk reports its page version"
              " and journal in the query", answer=Device, query=DevicePoll, auth="device",
              errors=("unavailable",)))
    route(app, "GET", "/api/v1/time", get_time, Doc("The server clock, for the kiosk's offset", answer=Time))
