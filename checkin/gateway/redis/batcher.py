"""Many requests' scan calls sent to Redis in one pipeline.

While one pipeline is on the wire, new calls queue; the next pipeline takes them all. At low load a
call goes out at once; at high load each round trip carries hundreds of scans. `Batcher` holds the
queue; how a batch reaches Redis is its one method `_send`: here for a single server, which is spoken to
through FastRedis over TCP or a unix socket (hiredis, ~8 µs a call) and through redis-py's pipeline over
TLS (~60 µs a call); in checkin.gateway.redis.cluster for a Redis Cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError, NoScriptError, RedisError

from checkin.gateway.redis.fast_redis import FastRedis, pack
from checkin.scan.script import GarbledReply

Call = tuple[list[str], list[Any], "asyncio.Future[Any]"]  # keys, args, and the caller's answer


def fast_client_for(redis: aioredis.Redis) -> FastRedis | None:
    """A FastRedis to the same server and database as the redis-py client, or None for TLS."""
    pool = getattr(redis, "connection_pool", None)
    if pool is None:
        return None
    kw = pool.connection_kwargs
    common = {"db": int(kw.get("db") or 0), "username": kw.get("username"), "password": kw.get("password")}
    if pool.connection_class is Connection:
        return FastRedis(host=kw.get("host") or "localhost", port=int(kw.get("port") or 6379), **common)
    if pool.connection_class is UnixDomainSocketConnection:
        return FastRedis(path=kw["path"], **common)
    return None


class Batcher:
    """The queue of one script's calls, drained a pipeline at a time; subclasses say how a batch is sent."""

    def __init__(self, script: str, max_batch: int = 512) -> None:
        self.script = script
        self.sha = hashlib.sha1(script.encode("utf-8")).hexdigest()
        self.max_batch = max_batch
        self._queue: list[Call] = []
        self._running: asyncio.Task[None] | None = None
        self.round_trips = 0  # counted so tests and benchmarks can see the batching
        # Told each batch's round-trip seconds and replies (metrics); called once a batch, not once a scan.
        self.on_batch: Callable[[float, list[Any]], None] | None = None

    @property
    def queued(self) -> int:
        """Calls waiting for the next pipeline."""
        return len(self._queue)

    async def call(self, keys: list[str], args: list[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        """Release the connections this batcher opened itself."""

    async def _send(self, batch: list[Call]) -> list[Any]:
        """Each call's reply (an exception for one that failed), in the batch's order."""
        raise NotImplementedError

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            try:
                started = time.perf_counter()
                results = await self._send(batch)
                if not isinstance(results, list) or len(results) != len(batch):
                    raise GarbledReply(f"{len(batch)} calls sent, a reply of another length came back")
            except Exception as exc:  # connection lost or a garbled reply: every caller in the batch learns it
                failure = exc if isinstance(exc, RedisError | GarbledReply) else GarbledReply(
                    f"{type(exc).__name__}: {exc}")
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                continue
            seconds = time.perf_counter() - started
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            if self.on_batch is not None:  # after the answers, so a metrics fault can hold no scan
                self.on_batch(seconds, results)


class ScriptBatcher(Batcher):
    """Batches to a single Redis or Valkey server."""

    def __init__(self, redis: aioredis.Redis, script: str, max_batch: int = 512) -> None:
        super().__init__(script, max_batch)
        self.redis = redis
        self.fast = fast_client_for(redis)

    async def close(self) -> None:
        if self.fast is not None:
            await self.fast.aclose()

    async def _send(self, batch: list[Call]) -> list[Any]:
        results = await self._pipeline(batch)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:  # Redis restarted or flushed its scripts: load once, resend only those
            if self.fast is not None:
                await self.fast.script_load(self.script)
            else:
                await self.redis.script_load(self.script)
            again = await self._pipeline([batch[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        self.round_trips += 1
        if self.fast is not None:
            sha = self.sha
            commands = [pack("EVALSHA", sha, len(keys), *keys, *args) for keys, args, _ in batch]
            try:
                return await self.fast.execute(commands)
            except ConnectionError:
                # Dropped while idle (a Redis restart, a killed client): resend once on a new connection,
                # as redis-py's retry would. Safe because the scan script is idempotent by scan_id.
                self.round_trips += 1
                return await self.fast.execute(commands)
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
