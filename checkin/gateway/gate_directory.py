"""Which gates exist at all, remembered per gateway process (off the scan's single round trip)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from checkin.gateway.errors import ApiError, unavailable
from checkin.keys import Keys
from checkin.tokens import DeviceToken


class GateDirectory:
    """Which gates exist at all, remembered per gateway process.

    A gate seen before costs nothing; a gate not yet seen costs one HGET of the global gates hash that
    load_event writes (with the device check in the same pipeline, so a bad token is still a 401 first).
    Only known gates are remembered, so a gate added later is found on its first scan. The scan itself
    stays one EVALSHA: the Lua script touches only the event's own hash-tagged keys, and a gate of
    another event is its verdict rejected/wrong_gate.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._known: set[str] = set()
        self._lookups = asyncio.Semaphore(16)

    async def unknown(self, redis: aioredis.Redis, keys: Keys, token: DeviceToken, gate_ids: set[str],
                      on_lost: Callable[[DeviceToken], Awaitable[ApiError]]) -> set[str]:
        """The gates among gate_ids that no loaded event has; raise ApiError for a refused device.

        When Redis does not hold the token's event, `on_lost(token)` gives the error to raise (and starts
        the rebuild only for an enrolled device: GatewayState.refuse_unloaded)."""
        missing = sorted(gate_ids - self._known)
        if not missing:
            return set()
        ev = keys.event(token.event_id)
        try:
            # Bounded below the client's connection pool: a cold gateway meeting hundreds of kiosks at
            # once would otherwise run out of connections and answer 503.
            async with self._lookups, redis.pipeline(transaction=False) as pipe:
                pipe.exists(ev.meta)
                pipe.hget(ev.devices, token.device_id)
                pipe.hmget(keys.gates, missing)
                loaded, device, events = await pipe.execute()
        except RedisError:
            raise unavailable() from None
        if not loaded:  # Redis lost the event (or never had it): Postgres says whether the device may rebuild it
            raise await on_lost(token)
        record = orjson.loads(device) if device else None
        if record is None or record.get("h") != token.hash:
            code = "unknown_device" if record is None else "bad_token"
            raise ApiError(401, code, "this device is not enrolled for this event, or its token was revoked")
        if record.get("s") != "active":
            raise ApiError(403, "device_revoked", "this device's token was revoked")
        if len(self._known) >= self.capacity:
            self._known.clear()
        found = {gate for gate, event in zip(missing, events, strict=True) if event is not None}
        self._known |= found
        return set(missing) - found
