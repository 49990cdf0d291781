"""A device's request for an event Redis does not hold: may it start the rebuild? (GatewayState.refuse_unloaded)

Only an active device enrolled for an open or closed event does, as Postgres says. A made-up token, a
revoked device, or a token naming a draft or unknown event is refused with nothing started, stored or
logged. The check is one indexed query, at most CHECKS at a time, so a flood of random event ids
queues here instead of taking the pool from the office.
"""

from __future__ import annotations

import asyncio

import asyncpg

from checkin.gateway.errors import ApiError
from checkin.tokens import DeviceToken

CHECKS = 2  # Postgres connections the check may hold at once

_DEVICE = """
SELECT d.status FROM devices d JOIN events e ON e.event_id = d.event_id
WHERE d.device_id = $1 AND d.event_id = $2 AND d.token_hash = $3 AND e.status <> 'draft'
"""


def rebuilding() -> ApiError:
    return ApiError(503, "rebuilding", "the event's live state is being rebuilt; keep the scan and retry",
                    headers={"Retry-After": "2"})


async def device_refused(pool: asyncpg.Pool, checks: asyncio.Semaphore, token: DeviceToken) -> ApiError | None:
    """None when the token is an active device's of an open or closed event (it may start a rebuild),
    else the error to answer with."""
    try:
        async with checks:
            status = await pool.fetchval(_DEVICE, token.device_id, token.event_id, token.hash)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return ApiError(503, "unavailable", "the database is unreachable; keep the scan and retry",
                        headers={"Retry-After": "5"})
    if status is None:
        return ApiError(401, "unknown_device", "this device is not enrolled for this event, or its token was revoked")
    if status != "active":
        return ApiError(403, "device_revoked", "this device's token was revoked")
    return None
