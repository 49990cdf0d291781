"""GET /api/v1/device/gate-copy: a kiosk's copy of its event for offline verdicts (checkin/events/gate_copy.py).

Off the scan path: one Lua call of its own, authenticated by the device token like a scan.
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from redis.exceptions import RedisError

from checkin.cards.format import public_keys_text
from checkin.events.gate_copy import CopyRefused, CopyUnloaded, Cursor, read_gate_copy
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import device_token
from checkin.gateway.errors import ApiError, json_response, unavailable
from checkin.gateway.models.device import GateCopy, GateCopyQuery
from checkin.gateway.rate_limit import RateLimiter
from checkin.gateway.state import state_key

_AUTH_STATUS = {"unknown_device": 401, "bad_token": 401, "device_revoked": 403}
# A kiosk asks every 15 s; a whole copy of a big event costs the gateway tens of milliseconds, so a token
# asking much faster (a bug, or someone with a stolen token) is slowed down. Per process, like the scan limits.
_COPIES = RateLimiter(rate_per_s=0.5, burst=10)


async def get_gate_copy(request: web.Request) -> web.StreamResponse:
    token, _ = device_token(request)  # checked against the devices hash inside the copy's script
    since = None
    if "since" in request.query:
        try:
            since = Cursor.parse(request.query["since"])
        except ValueError:
            raise ApiError(400, "invalid_field", "since is the cursor a previous gate copy gave; leave it out for"
                           " a whole copy", "since") from None
    wait = _COPIES.retry_after(token.hash)
    if wait:
        raise ApiError(429, "rate_limited", "this device asks for its gate copy faster than a kiosk needs to",
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})
    state = request.app[state_key]
    try:
        copy = await read_gate_copy(state.redis, state.keys.event(token.event_id), token.device_id, token.hash, since)
    except CopyRefused as refused:
        raise ApiError(_AUTH_STATUS.get(refused.code, 401), refused.code,
                       "this device is not enrolled for this event, or its token was revoked") from None
    except CopyUnloaded:  # the next scan starts the rebuild (it checks who asks); a copy only waits for it
        raise ApiError(503, "rebuilding", "the event's live state is being rebuilt; retry shortly",
                       headers={"Retry-After": "2"}) from None
    except RedisError:
        raise unavailable() from None
    # The signing keys this process holds (KEY_REFRESH_S fresh): a kiosk learns a new key, and drops a retired
    # one, with its copy rather than only when it was enrolled.
    response = json_response({**copy, "public_keys": public_keys_text(state.cards.public_keys),
                              "server_time": int(time.time() * 1000)},
                             headers={"Cache-Control": "no-store"})
    response.enable_compression()  # a whole copy of a big event is megabytes of JSON that gzip shrinks ~8x
    return response


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/v1/device/gate-copy", get_gate_copy,
          Doc("The event's gate copy (whole, or the delta since a cursor) for offline verdicts", answer=GateCopy,
              query=GateCopyQuery, auth="device", errors=("rate_limited", "rebuilding", "unavailable")))
