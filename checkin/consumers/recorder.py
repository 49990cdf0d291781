"""The recorder: consumer group "recorder" on every event stream, writing scans to Postgres.

At least once, effect exactly once: entries are acknowledged only after their batch committed,
and the writes are idempotent, so a crash at any point only causes a harmless re-write. Reading
the next batch from Redis overlaps with writing the current one to Postgres.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from importlib import resources

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from checkin.config import Config
from checkin.consumers.batch_writer import BatchWriter
from checkin.consumers.group_reader import GroupReader, Item, RecorderStats
from checkin.consumers.metrics import RecorderMetrics
from checkin.consumers.scan_writer import Backoff, Stopped
from checkin.redis_conn import create_redis
from checkin.streams import RECORDER_GROUP

log = logging.getLogger(__name__)
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)  # what a retry with backoff waits out
_RAISE_DURABLE = (resources.files("checkin.consumers") / "lua" / "raise_durable.lua").read_text(encoding="utf-8")


class Recorder:
    """One consumer of the group: a GroupReader reads, a BatchWriter stores, then the recorder acknowledges
    and raises the devices' durable watermarks in Redis."""

    def __init__(self, reader: GroupReader, writer: BatchWriter, stopping: asyncio.Event, *,
                 maintain_every_s: float = 1.0) -> None:
        self.reader = reader
        self.writer = writer
        self.stats = reader.stats
        self.metrics = reader.metrics
        self.maintain_every_s = maintain_every_s
        self._stopping = stopping
        self._raise_durable = reader.redis.register_script(_RAISE_DURABLE)

    @property
    def name(self) -> str:
        return self.reader.name

    def stop(self) -> None:
        self._stopping.set()

    async def _store(self, items: list[Item], writer: int = 0) -> None:
        durable = await self.writer.write(items, writer)
        reader = self.reader
        device_event = {i.line.split(b"\t", 2)[1].decode(errors="replace"): reader.event_of[i.stream] for i in items}
        by_stream: dict[str, list[bytes]] = {}
        for item in items:
            by_stream.setdefault(item.stream, []).append(item.entry_id)
        by_event: dict[str, list[str | int]] = {}
        for device_id, seq in durable.items():
            if device_id in device_event:
                by_event.setdefault(device_event[device_id], []).extend((device_id, seq))
        backoff = Backoff()
        started = time.perf_counter()
        while True:  # committed: the acknowledgement must follow, even across a Redis blip
            try:
                async with reader.redis.pipeline(transaction=False) as pipe:
                    for stream, entry_ids in by_stream.items():
                        pipe.xack(stream, RECORDER_GROUP, *entry_ids)
                    if not reader.cluster:
                        for event_id, marks in by_event.items():
                            await self._raise_durable(keys=[reader.keys.event(event_id).durable], args=marks,
                                                      client=pipe)
                    await pipe.execute()
                if reader.cluster:  # a cluster pipeline refuses scripts: one call per event instead
                    for event_id, marks in by_event.items():
                        await self._raise_durable(keys=[reader.keys.event(event_id).durable], args=marks)
                break
            except _REDIS_DOWN as exc:
                log.warning("Redis unavailable while acknowledging, retrying: %s", exc)
                await backoff.sleep(None)
        reader.spent("ack", started)
        self.stats.batches += 1
        self.stats.rows += len(items)

    # --- the loop ------------------------------------------------------------------------

    async def run_once(self, block_ms: int | None = None) -> int:
        """Read and store one batch of new entries; return how many it held."""
        streams = await self.reader.streams()
        if not streams:
            return 0
        block = self.reader.config.recorder_block_ms if block_ms is None else block_ms
        items = await self.reader.read_new(streams, block)
        if items:
            await self._store(items)
        return len(items)

    async def aclose(self) -> None:
        """Release the connections (run() does this itself; for callers of run_once)."""
        await self.writer.aclose()
        await self.reader.aclose()

    async def _reader(self, queue: asyncio.Queue[list[Item] | BaseException | None]) -> None:
        loop = asyncio.get_running_loop()
        reader, config = self.reader, self.reader.config
        own: dict[str, bytes | None] = {}  # our own pending entries first (from before a restart)
        next_claim = next_maintain = 0.0
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                streams = await reader.streams()
                if not streams:
                    await asyncio.sleep(config.recorder_block_ms / 1000)
                    continue
                items = await reader.read_own_pending(streams, own)
                if not items and loop.time() >= next_claim:
                    next_claim = loop.time() + config.recorder_claim_idle_ms / 2000
                    items = await reader.reclaim(streams)
                if not items and loop.time() >= next_maintain:
                    next_maintain = loop.time() + self.maintain_every_s
                    await reader.maintain(streams)
                if not items:
                    items = await reader.read_new(streams, config.recorder_block_ms)
                backoff = Backoff()
            except _REDIS_DOWN as exc:
                log.warning("Redis unavailable, retrying: %s", exc)
                await backoff.sleep(self._stopping)
                continue
            except ResponseError as exc:
                # NOGROUP: the stream or group is gone; UNBLOCKED: it was deleted while we waited on it
                # (Redis 7). Either way Redis lost it (a restart without persistence): make the groups again.
                if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                    await queue.put(exc)
                    return
                log.warning("consumer group gone (%s); creating it again", exc)
                reader.forget_groups()
                own.clear()
                await backoff.sleep(self._stopping)
                continue
            except Exception as exc:  # noqa: BLE001 - handed to the writer, which re-raises it
                await queue.put(exc)
                return
            if items:
                reader.in_flight.update((i.stream, i.entry_id) for i in items)
                await queue.put(items)
        for _ in range(self.writer.writers):
            await queue.put(None)

    async def _writer(self, writer: int, queue: asyncio.Queue[list[Item] | BaseException | None]) -> None:
        while (batch := await queue.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            try:
                await self._store(batch, writer)
            finally:
                self.reader.in_flight.difference_update((i.stream, i.entry_id) for i in batch)

    async def run(self) -> None:
        """Read and store until stopped. Several writers (each its own Postgres connection and
        transaction) let Postgres use more than one core; they are as safe together as separate
        consumers are."""
        log.info("recorder %s started", self.name)
        queue: asyncio.Queue[list[Item] | BaseException | None] = asyncio.Queue(maxsize=self.writer.writers)
        reader = asyncio.create_task(self._reader(queue))
        writers = [asyncio.create_task(self._writer(i, queue)) for i in range(self.writer.writers)]
        try:
            await asyncio.gather(*writers)
        except Stopped:
            log.warning("stopping with Postgres unavailable; unacknowledged entries stay pending")
        finally:
            for task in (reader, *writers):
                task.cancel()
            await asyncio.gather(reader, *writers, return_exceptions=True)
            await self.aclose()
        log.info("recorder %s stopped after %d rows", self.name, self.stats.rows)


def make_recorder(config: Config, redis: aioredis.Redis, consumer_name: str, *,
                  metrics: RecorderMetrics | None = None, trim_keep_ms: int = 60_000,
                  maintain_every_s: float = 1.0, writers: int = 2) -> Recorder:
    """A recorder as a process runs it: its reader and writer share the stats, the metrics and the stop."""
    stats, metrics, stopping = RecorderStats(), metrics or RecorderMetrics(), asyncio.Event()
    reader = GroupReader(config, redis, consumer_name, stats=stats, metrics=metrics, trim_keep_ms=trim_keep_ms)
    writer = BatchWriter(config, stats=stats, metrics=metrics, park=reader.dead_letter, stopping=stopping,
                         writers=writers)
    return Recorder(reader, writer, stopping, maintain_every_s=maintain_every_s)


async def main(config: Config, consumer_name: str) -> None:
    redis = create_redis(config.redis_url or "")
    metrics = RecorderMetrics()
    if config.recorder_metrics_port:
        try:
            metrics.serve(config.host, config.recorder_metrics_port)
            log.info("metrics on http://%s:%d/metrics", config.host, config.recorder_metrics_port)
        except OSError as exc:  # a second recorder on the same machine: recording matters more than its metrics
            log.warning("no /metrics: port %d: %s (give each recorder its own --metrics-port)",
                        config.recorder_metrics_port, exc)
    recorder = make_recorder(config, redis, consumer_name, metrics=metrics)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, recorder.stop)  # the batch in hand is committed before exit
    try:
        await recorder.run()
    finally:
        await redis.aclose()
