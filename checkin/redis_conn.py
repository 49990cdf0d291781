"""How to reach Redis: one client factory for every process."""

from __future__ import annotations

import redis.asyncio as aioredis


def create_redis(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    # decode_responses stays off: stream fields are decoded once, where they are parsed.
    return aioredis.Redis.from_url(url, max_connections=max_connections, health_check_interval=30)
