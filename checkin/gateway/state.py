"""What a gateway process holds while it runs, under one typed app key."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from checkin.cards import CardVerifier
from checkin.config import Config
from checkin.gateway.batcher import ScriptBatcher
from checkin.gateway.cluster_batcher import ClusterScriptBatcher
from checkin.gateway.gate_directory import GateDirectory
from checkin.gateway.rate_limit import RateLimiter
from checkin.keys import Keys
from checkin.rebuild import rebuild_if_lost

log = logging.getLogger(__name__)


@dataclass
class GatewayState:
    config: Config
    keys: Keys
    pool: asyncpg.Pool
    redis: aioredis.Redis
    batcher: ScriptBatcher | ClusterScriptBatcher
    cards: CardVerifier
    gates: GateDirectory = field(default_factory=GateDirectory)
    scan_limit: RateLimiter | None = None  # requests to /scans per device token
    batch_limit: RateLimiter | None = None  # journal replays per device token

    def __post_init__(self) -> None:
        rate = self.config.device_scans_per_s
        if rate and self.scan_limit is None:
            self.scan_limit = RateLimiter(rate, burst=3 * rate)
            self.batch_limit = RateLimiter(max(1, rate // 5), burst=max(5, rate // 2))


    _rebuilding: set[str] = field(default_factory=set)

    def rebuild_soon(self, event_id: str) -> None:
        """Redis has lost the event: rebuild it from Postgres in the background, once at a time."""
        if event_id in self._rebuilding:
            return
        self._rebuilding.add(event_id)

        async def run() -> None:
            try:
                async with self.pool.acquire() as conn:
                    await rebuild_if_lost(conn, self.redis, self.keys, event_id)
            except Exception as exc:  # Postgres down too: the next refused scan tries again
                log.warning("could not rebuild %s yet: %s", event_id, exc)
            finally:
                self._rebuilding.discard(event_id)

        asyncio.get_running_loop().create_task(run())


state_key = web.AppKey("state", GatewayState)
