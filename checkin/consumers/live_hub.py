"""One event's live headcount: a snapshot from Redis, then every stream entry applied in order.

Each client has a small queue; a client that falls behind gets its queue replaced by one fresh
snapshot instead of slowing the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
import redis.asyncio as aioredis

from checkin.headcount import apply_entry, shape, snapshot
from checkin.keys import EventKeys

log = logging.getLogger(__name__)
CLIENT_QUEUE = 16


class Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(CLIENT_QUEUE)
        self.resets = 0


class EventHub:
    def __init__(self, redis: aioredis.Redis, ev: EventKeys, tick_s: float = 0.2) -> None:
        self.redis = redis
        self.ev = ev
        self.tick_s = tick_s
        self.counts: dict[str, int] = {}
        self.stream_id = "0-0"
        self.last_received_ms = 0
        self.subscribers: set[Subscriber] = set()
        self._changed: set[str] = set()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.counts, self.stream_id = await snapshot(self.redis, self.ev)
        self._ready.set()
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._tick())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def snapshot_message(self) -> bytes:
        return orjson.dumps({
            "type": "snapshot", "event_id": self.ev.event_id, "stream_id": self.stream_id,
            "counts": self.counts, "headcount": shape(self.counts), "last_received_ms": self.last_received_ms,
        })

    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        sub.queue.put_nowait(self.snapshot_message())
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def _read(self) -> None:
        while True:
            try:
                reply = await self.redis.xread({self.ev.stream: self.stream_id}, count=1000, block=1000)
            except Exception as exc:  # Redis restarting: keep the counts, try again shortly
                log.warning("live reader for %s: %s", self.ev.event_id, exc)
                await asyncio.sleep(1)
                continue
            for _, messages in reply or []:
                for entry_id, fields in messages:
                    self._changed.update(apply_entry(self.counts, fields))
                    self.stream_id = entry_id.decode()
                    rx = fields.get(b"rx")
                    if rx and rx.isdigit():
                        self.last_received_ms = max(self.last_received_ms, int(rx))

    async def _tick(self) -> None:
        """Coalesce: at most one delta per tick, carrying the counters that moved."""
        while True:
            await asyncio.sleep(self.tick_s)
            if not self._changed:
                continue
            changed, self._changed = self._changed, set()
            message = orjson.dumps({
                "type": "delta", "stream_id": self.stream_id,
                "counts": {name: self.counts.get(name, 0) for name in changed},
                "headcount": shape(self.counts), "last_received_ms": self.last_received_ms,
            })
            for sub in list(self.subscribers):
                self._offer(sub, message)

    def _offer(self, sub: Subscriber, message: bytes) -> None:
        try:
            sub.queue.put_nowait(message)
        except asyncio.QueueFull:
            # Behind: drop what it has not read and give it one snapshot that covers it all.
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.queue.put_nowait(self.snapshot_message())
            sub.resets += 1

    def info(self) -> dict[str, Any]:
        return {"event_id": self.ev.event_id, "clients": len(self.subscribers), "stream_id": self.stream_id}
