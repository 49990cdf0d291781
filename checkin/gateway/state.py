"""What a gateway process holds while it runs, under one typed app key."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from checkin.cards.format import CardVerifier
from checkin.cards.store import active_card_texts, valid_public_keys
from checkin.config import Config
from checkin.events.rebuild import rebuild_if_lost
from checkin.gateway.errors import ApiError
from checkin.gateway.gate_directory import GateDirectory
from checkin.gateway.outages import Outage
from checkin.gateway.pin_tries import PinTries
from checkin.gateway.rate_limit import RateLimiter
from checkin.gateway.redis.batcher import Batcher
from checkin.gateway.unloaded import CHECKS, device_refused, rebuilding
from checkin.keys import Keys
from checkin.tokens import DeviceToken

log = logging.getLogger(__name__)
# A card signed with a key this process does not know sends it to Postgres for the keys at most this often, and
# waits this long at most: another gateway may have just made the key, and made-up key ids cost no more.
KEY_LOOKUP_GAP_S = 5.0
KEY_LOOKUP_WAIT_S = 2.0


@dataclass
class GatewayState:
    config: Config
    keys: Keys
    pool: asyncpg.Pool
    redis: aioredis.Redis
    batcher: Batcher
    cards: CardVerifier
    gates: GateDirectory = field(default_factory=GateDirectory)
    pin_tries: PinTries = field(default_factory=PinTries)
    unloaded_checks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CHECKS))
    scan_limit: RateLimiter | None = None  # requests to /scans per device token
    batch_limit: RateLimiter | None = None  # journal replays per device token
    redis_outage: Outage = field(default_factory=lambda: Outage("Redis", "scans answer 503 with Retry-After"))
    postgres_outage: Outage = field(
        default_factory=lambda: Outage("Postgres", "scans go on; the office and coordinator pages wait"))

    def __post_init__(self) -> None:
        rate = self.config.device_scans_per_s
        if rate and self.scan_limit is None:
            # Buckets are made before the token is checked: a flood of made-up tokens clears them sooner.
            self.scan_limit = RateLimiter(rate, burst=3 * rate, max_devices=20_000)
            self.batch_limit = RateLimiter(max(1, rate // 5), burst=max(5, rate // 2), max_devices=20_000)

    _rebuilding: set[str] = field(default_factory=set)
    _key_lookup: asyncio.Future[None] | None = None
    _key_lookup_at: float = float("-inf")

    async def refresh_keys(self) -> None:
        """Take up the signing keys Postgres holds now, if they changed (a new verifier: its memo starts again)."""
        keys = await valid_public_keys(self.pool)
        if keys.keys() != self.cards.public_keys.keys():
            cards = CardVerifier(keys)
            cards.trust(await active_card_texts(self.pool))
            self.cards = cards

    async def knows_key_now(self, key_id: str) -> bool:
        """Whether a key id unknown a moment ago is a valid signing key after all. The first card of a key made
        on another gateway (the console's first card issue) would otherwise be refused as forged until the next
        refresh; cards arriving together share one lookup."""
        if key_id in self.cards.public_keys:
            return True
        now = time.monotonic()
        if self._key_lookup is None or (self._key_lookup.done() and now - self._key_lookup_at >= KEY_LOOKUP_GAP_S):
            self._key_lookup_at = now
            self._key_lookup = asyncio.ensure_future(self.refresh_keys())
            self._key_lookup.add_done_callback(lambda done: done.cancelled() or done.exception())  # seen, if unawaited
        if not self._key_lookup.done():  # a finished one has been heard: a failure is logged once a lookup
            try:
                await asyncio.wait_for(asyncio.shield(self._key_lookup), KEY_LOOKUP_WAIT_S)
            except Exception as exc:  # Postgres down or slow: the card stays refused, as it would have been
                log.warning("could not look up signing key %s: %s", key_id, exc or type(exc).__name__)
        return key_id in self.cards.public_keys

    def is_rebuilding(self, event_id: str) -> bool:
        return event_id in self._rebuilding

    async def refuse_unloaded(self, token: DeviceToken) -> ApiError:
        """The error for a device whose event Redis does not hold; the rebuild starts only for an active
        device of an open or closed event (see gateway/unloaded.py)."""
        if self.is_rebuilding(token.event_id):
            return rebuilding()  # started for an enrolled device already: this request starts nothing
        refused = await device_refused(self.pool, self.unloaded_checks, token)
        if refused is not None:
            return refused
        self.rebuild_soon(token.event_id)
        return rebuilding()

    def rebuild_soon(self, event_id: str) -> None:
        """Redis has lost the event: rebuild it from Postgres in the background, once at a time.
        Call it for an authenticated request only (see gateway/unloaded.py)."""
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
