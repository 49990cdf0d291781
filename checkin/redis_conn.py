"""How to reach Redis: one client factory for every process.

`redis://` and `unix://` URLs give a single-server client; `redis+cluster://host:port` gives a
Redis Cluster client that discovers the other nodes from that one.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

CLUSTER_SCHEME = "redis+cluster://"


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def create_redis(url: str, *, max_connections: int = 64) -> Any:
    """A client for the URL; typed loosely because cluster and single clients share the commands we use."""
    # decode_responses stays off: stream fields are decoded once, where they are parsed.
    if is_cluster_url(url):
        return RedisCluster.from_url("redis://" + url[len(CLUSTER_SCHEME):], max_connections=max_connections)
    return aioredis.Redis.from_url(url, max_connections=max_connections, health_check_interval=30)


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)
