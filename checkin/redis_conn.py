"""How to reach Redis: one client factory for every process.

`redis://` and `unix://` URLs give a single-server client; `redis+cluster://host:port` gives a
Redis Cluster client that discovers the other nodes from that one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CLUSTER_SCHEME = "redis+cluster://"


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def create_redis(url: str, *, max_connections: int = 64) -> Any:
    """A client for the URL; typed loosely because cluster and single clients share the commands we use."""
    # decode_responses stays off: stream fields are decoded once, where they are parsed.
    if is_cluster_url(url):
        return RedisCluster.from_url("redis://" + url[len(CLUSTER_SCHEME):], max_connections=max_connections)
    # After a Redis restart every pooled connection is dead; a command retries on a fresh one instead of
    # failing (callers' commands are idempotent or re-checked), and gives up quickly while Redis is down.
    return aioredis.Redis.from_url(
        url, max_connections=max_connections, health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError])


def shown(url: str) -> str:
    """The URL as it may appear in a message or a log: its password, if any, left out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{parts.netloc.rpartition('@')[2]}"))


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)
