"""The recorder: consumer group "recorder" on every event stream, writing scans to Postgres.

At least once, effect exactly once: entries are acknowledged only after their batch committed,
and the writes are idempotent, so a crash at any point only causes a harmless re-write.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from checkin.config import Config
from checkin.consumers.scan_writer import prepare, write_batch
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.streams import RECORDER_GROUP, BadEntry, ScanEntry, parse_entry

log = logging.getLogger(__name__)


@dataclass
class RecorderStats:
    batches: int = 0
    rows: int = 0
    dead_letters: int = 0
    reclaimed: int = 0
    last_error: str | None = None
    per_event: dict[str, int] = field(default_factory=dict)


class Recorder:
    def __init__(self, config: Config, redis: aioredis.Redis, consumer_name: str) -> None:
        self.config = config
        self.redis = redis
        self.keys = Keys(config.redis_prefix)
        self.name = consumer_name
        self.stats = RecorderStats()
        self._groups: set[str] = set()
        self._stopping = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def _streams(self) -> dict[str, str]:
        """stream key -> event id, creating the group on streams seen for the first time."""
        events = sorted(e.decode() for e in await self.redis.smembers(self.keys.events))
        streams = {self.keys.event(e).stream: e for e in events}
        for stream in streams:
            if stream not in self._groups:
                try:
                    await self.redis.xgroup_create(stream, RECORDER_GROUP, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                self._groups.add(stream)
        return streams

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.config.postgres_url)
            await prepare(self._conn)
        return self._conn

    async def _dead_letter(self, stream: str, event_id: str, entry_id: bytes, fields: dict[bytes, bytes],
                           error: str) -> None:
        ev = self.keys.event(event_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(ev.dead_letters, {**fields, b"_error": error.encode(), b"_id": entry_id,
                                         b"_stream": stream.encode()})
            pipe.xack(stream, RECORDER_GROUP, entry_id)
            await pipe.execute()
        self.stats.dead_letters += 1
        log.warning("dead-lettered %s %s: %s", stream, entry_id.decode(), error)

    async def _parse(self, streams: dict[str, str], reply: list) -> tuple[list[ScanEntry], list[tuple[str, bytes]]]:
        entries: list[ScanEntry] = []
        ids: list[tuple[str, bytes]] = []
        for stream_raw, messages in reply:
            stream = stream_raw.decode() if isinstance(stream_raw, bytes) else stream_raw
            event_id = streams[stream]
            for entry_id, fields in messages:
                if fields is None:  # trimmed away while pending: nothing to store
                    await self.redis.xack(stream, RECORDER_GROUP, entry_id)
                    continue
                try:
                    entries.append(parse_entry(event_id, entry_id, fields))
                except BadEntry as exc:
                    await self._dead_letter(stream, event_id, entry_id, fields, str(exc))
                    continue
                ids.append((stream, entry_id))
        return entries, ids

    async def _store(self, entries: list[ScanEntry], ids: list[tuple[str, bytes]]) -> None:
        """Write until it succeeds (Postgres may be down for a while), then acknowledge."""
        delay, failing = 0.2, False
        while True:
            try:
                conn = await self._connection()
                durable = await write_batch(conn, entries)
                break
            except (OSError, asyncpg.PostgresConnectionStatusError, asyncpg.CannotConnectNowError,
                    asyncpg.InterfaceError, asyncpg.exceptions.AdminShutdownError,
                    asyncpg.exceptions.ConnectionDoesNotExistError, ConnectionError, TimeoutError) as exc:
                if not failing:
                    log.error("Postgres unavailable, holding %d entries and retrying: %s", len(entries), exc)
                    failing = True
                self.stats.last_error = str(exc)
                self._conn = None
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)
        if failing:
            log.info("Postgres is back; stored the held batch")
        device_event = {e.device_id: e.event_id for e in entries}
        async with self.redis.pipeline(transaction=False) as pipe:
            by_stream: dict[str, list[bytes]] = {}
            for stream, entry_id in ids:
                by_stream.setdefault(stream, []).append(entry_id)
            for stream, entry_ids in by_stream.items():
                pipe.xack(stream, RECORDER_GROUP, *entry_ids)
            for device_id, seq in durable.items():
                pipe.hset(self.keys.event(device_event[device_id]).durable, device_id, seq)
            await pipe.execute()
        self.stats.batches += 1
        self.stats.rows += len(entries)

    async def _reclaim(self, streams: dict[str, str]) -> list:
        """Entries left pending by a dead consumer, taken over after the idle time."""
        reply = []
        for stream in streams:
            _, claimed, _ = await self.redis.xautoclaim(
                stream, RECORDER_GROUP, self.name, self.config.recorder_claim_idle_ms, "0-0",
                count=self.config.recorder_batch)
            if claimed:
                self.stats.reclaimed += len(claimed)
                reply.append((stream, claimed))
        return reply

    async def run_once(self, block_ms: int | None = None) -> int:
        """Read and store one batch; return how many entries it held."""
        streams = await self._streams()
        if not streams:
            await asyncio.sleep((block_ms or self.config.recorder_block_ms) / 1000)
            return 0
        reply = await self.redis.xreadgroup(
            RECORDER_GROUP, self.name, {s: ">" for s in streams}, count=self.config.recorder_batch,
            block=block_ms if block_ms is not None else self.config.recorder_block_ms)
        entries, ids = await self._parse(streams, reply or [])
        if entries:
            await self._store(entries, ids)
        return len(entries)

    async def run(self) -> None:
        log.info("recorder %s started", self.name)
        # Our own pending entries first (from before a restart), then anyone's stale ones.
        while not self._stopping.is_set():
            streams = await self._streams()
            reply = await self.redis.xreadgroup(
                RECORDER_GROUP, self.name, {s: "0" for s in streams}, count=self.config.recorder_batch
            ) if streams else []
            entries, ids = await self._parse(streams, reply or [])
            if not entries:
                break
            await self._store(entries, ids)
        last_claim = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            if loop.time() - last_claim > self.config.recorder_claim_idle_ms / 2000:
                last_claim = loop.time()
                streams = await self._streams()
                entries, ids = await self._parse(streams, await self._reclaim(streams))
                if entries:
                    await self._store(entries, ids)
            await self.run_once()
        if self._conn is not None:
            await self._conn.close()
        log.info("recorder %s stopped after %d rows", self.name, self.stats.rows)


async def main(config: Config, consumer_name: str) -> None:
    redis = create_redis(config.redis_url or "")
    recorder = Recorder(config, redis, consumer_name)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, recorder.stop)  # the batch in hand is committed before exit
    try:
        await recorder.run()
    finally:
        await redis.aclose()
