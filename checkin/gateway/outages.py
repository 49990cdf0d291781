"""The gateway's watch on its servers: one log line when Redis or Postgres goes away and one when it is
back (not a traceback per request), and the events Redis lost put back from Postgres when it returns."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
import redis.asyncio as aioredis

from checkin.events.rebuild import ensure_loaded
from checkin.keys import Keys

log = logging.getLogger(__name__)
WATCH_S = 1.0


class Outage:
    """One server's outage as the log tells it."""

    def __init__(self, what: str, meanwhile: str) -> None:
        self.what = what
        self.meanwhile = meanwhile  # what the gateway does until it is back
        self.since: float | None = None  # monotonic start of the current outage
        self.refused = 0  # requests answered 503 during it

    def failed(self, why: str) -> None:
        self.refused += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s unreachable (%s); %s until it is back", self.what, why, self.meanwhile)

    def ended(self) -> bool:
        """Note that the server answers; True when that ends an outage."""
        if self.since is None:
            return False
        log.warning("%s is back after %.1f s (%d failed calls meanwhile)", self.what,
                    time.monotonic() - self.since, self.refused)
        self.since, self.refused = None, 0
        return True


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:160] if str(exc) else type(exc).__name__


async def watch(redis: aioredis.Redis, pool: asyncpg.Pool, keys: Keys, redis_outage: Outage,
                postgres_outage: Outage) -> None:
    """Every second: is each server there, and has Redis lost the events (a restart without its data)?"""
    # At start, only when Redis holds no event at all (it came up empty): looking through every event of the
    # database at each start would rebuild those another system keeps under another key prefix.
    recheck_events = False
    while True:
        await asyncio.sleep(WATCH_S)
        try:
            async with asyncio.timeout(2):
                events_known = await redis.exists(keys.events)
        except Exception as exc:  # any failure means unreachable; the next tick looks again
            redis_outage.failed(_why(exc))
            continue
        if redis_outage.ended() or not events_known:
            recheck_events = True
        try:
            async with asyncio.timeout(5), pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        except Exception as exc:
            postgres_outage.failed(_why(exc))
            continue
        postgres_outage.ended()
        if recheck_events:
            try:  # not under the probe's 5 s: rebuilding many events may take longer, and is not an outage
                async with pool.acquire() as conn:
                    rebuilt = await ensure_loaded(conn, redis, keys)
            except Exception as exc:  # a server went away meanwhile: the next tick looks again
                log.warning("could not check the events Redis holds yet: %s", _why(exc))
                continue
            recheck_events = False
            if rebuilt:
                log.warning("Redis had lost %s; rebuilt from Postgres", ", ".join(rebuilt))
