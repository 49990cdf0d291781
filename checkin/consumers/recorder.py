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

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from checkin.config import Config
from checkin.consumers.metrics import RecorderMetrics
from checkin.consumers.scan_writer import (
    Backoff,
    DataProblem,
    Stopped,
    classify,
    prepare,
    write_batch,
)
from checkin.consumers.stream_reads import Item, RecorderStats, StreamReads
from checkin.keys import Keys
from checkin.redis_conn import create_redis, is_cluster
from checkin.streams import RECORDER_GROUP

log = logging.getLogger(__name__)
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)  # what a retry with backoff waits out


# The Redis mirror of the watermarks only ever moves up: two consumers' acknowledgements may
# arrive in either order.
_RAISE_DURABLE = """
for i = 1, #ARGV, 2 do
  if tonumber(ARGV[i + 1]) > tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 0
"""


class Recorder(StreamReads):
    """One consumer of the group: reads (StreamReads), writes batches to Postgres, then acknowledges."""

    def __init__(self, config: Config, redis: aioredis.Redis, consumer_name: str, *,
                 metrics: RecorderMetrics | None = None, trim_keep_ms: int = 60_000,
                 maintain_every_s: float = 1.0, writers: int = 2) -> None:
        self.config = config
        self.redis = redis
        self.keys = Keys(config.redis_prefix)
        self.name = consumer_name
        self.stats = RecorderStats()
        self.metrics = metrics or RecorderMetrics()
        self.trim_keep_ms = trim_keep_ms
        self.maintain_every_s = maintain_every_s
        self._groups: set[str] = set()
        self._event_of: dict[str, str] = {}
        self._stopping = asyncio.Event()
        self.writers = writers
        self._conns: list[asyncpg.Connection | None] = [None] * writers
        self._in_flight: set[tuple[str, bytes]] = set()
        self._pg_down = False
        self._raise_durable = redis.register_script(_RAISE_DURABLE)
        # A multi-stream XREADGROUP must stay in one slot of a cluster: there, each stream is read alone.
        self._cluster = is_cluster(redis)
        self._raw = None if self._cluster else redis.client()  # its XREADGROUP replies stay unparsed
        if self._raw is not None:
            self._raw.set_response_callback("XREADGROUP", lambda response, **_: response)

    def stop(self) -> None:
        self._stopping.set()

    # --- writing -------------------------------------------------------------------------

    async def _connection(self, writer: int) -> asyncpg.Connection:
        conn = self._conns[writer]
        if conn is None or conn.is_closed():
            conn = self._conns[writer] = await asyncpg.connect(self.config.postgres_url, timeout=10)
            await prepare(conn)
        return conn

    async def _write(self, items: list[Item], writer: int) -> dict[str, int]:
        """Write until it succeeds (Postgres may be down a while); DataProblem if the rows are at fault."""
        backoff = Backoff()
        while True:
            started = time.perf_counter()
            stages: dict[str, float] = {}
            try:
                conn = await self._connection(writer)
                durable = await write_batch(conn, [i.line for i in items], stages)
            except Exception as exc:  # noqa: BLE001 - classify decides: retry, split, or crash
                kind = classify(exc)
                self.metrics.postgres_errors.labels(kind).inc()
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if kind == "data":
                    raise DataProblem(self.stats.last_error) from exc
                if kind != "transient":
                    raise
                if not self._pg_down:
                    log.error("Postgres unavailable, holding %d entries and retrying: %s", len(items), exc)
                    self._pg_down = True
                broken = self._conns[writer]
                if broken is not None and not broken.is_closed():
                    broken.terminate()
                self._conns[writer] = None
                if self._stopping.is_set():
                    raise Stopped from exc  # unacknowledged: another consumer or a restart takes them
                await backoff.sleep(self._stopping)
                continue
            if self._pg_down:
                log.info("Postgres is back; writing again")
                self._pg_down = False
            for stage, spent in stages.items():
                self.stats.stages[stage] = self.stats.stages.get(stage, 0.0) + spent
            self.metrics.batch(len(items), time.perf_counter() - started, stages)
            return durable

    async def _write_or_split(self, items: list[Item], writer: int) -> dict[str, int]:
        """A batch Postgres refuses is halved until the offending entries stand alone; those go to
        the dead-letter stream and the rest is stored."""
        try:
            return await self._write(items, writer)
        except DataProblem as exc:
            if len(items) == 1:
                item = items[0]
                await self._dead_letter([(item.stream, item.entry_id, item.fields, f"postgres refused: {exc}")])
                return {}
            mid = len(items) // 2
            first = await self._write_or_split(items[:mid], writer)
            second = await self._write_or_split(items[mid:], writer)
            return {d: max(first.get(d, 0), second.get(d, 0)) for d in first.keys() | second.keys()}

    async def _store(self, items: list[Item], writer: int = 0) -> None:
        durable = await self._write_or_split(items, writer)
        device_event = {i.line.split(b"\t", 2)[1].decode(errors="replace"): self._event_of[i.stream] for i in items}
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
                async with self.redis.pipeline(transaction=False) as pipe:
                    for stream, entry_ids in by_stream.items():
                        pipe.xack(stream, RECORDER_GROUP, *entry_ids)
                    if not self._cluster:
                        for event_id, marks in by_event.items():
                            await self._raise_durable(keys=[self.keys.event(event_id).durable], args=marks,
                                                      client=pipe)
                    await pipe.execute()
                if self._cluster:  # a cluster pipeline refuses scripts: one call per event instead
                    for event_id, marks in by_event.items():
                        await self._raise_durable(keys=[self.keys.event(event_id).durable], args=marks)
                break
            except _REDIS_DOWN as exc:
                log.warning("Redis unavailable while acknowledging, retrying: %s", exc)
                await backoff.sleep(None)
        self._spent("ack", started)
        self.stats.batches += 1
        self.stats.rows += len(items)

    # --- the loop ------------------------------------------------------------------------

    async def run_once(self, block_ms: int | None = None) -> int:
        """Read and store one batch of new entries; return how many it held."""
        streams = await self._streams()
        if not streams:
            return 0
        items = await self._read_new(streams, self.config.recorder_block_ms if block_ms is None else block_ms)
        if items:
            await self._store(items)
        return len(items)

    async def aclose(self) -> None:
        """Release the connections (run() does this itself; for callers of run_once)."""
        for conn in self._conns:
            if conn is not None and not conn.is_closed():
                await conn.close()
        if self._raw is not None:
            await self._raw.aclose()

    async def _reader(self, queue: asyncio.Queue[list[Item] | BaseException | None]) -> None:
        loop = asyncio.get_running_loop()
        own: dict[str, bytes | None] = {}  # our own pending entries first (from before a restart)
        next_claim = next_maintain = 0.0
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                streams = await self._streams()
                if not streams:
                    await asyncio.sleep(self.config.recorder_block_ms / 1000)
                    continue
                items = await self._read_own_pending(streams, own)
                if not items and loop.time() >= next_claim:
                    next_claim = loop.time() + self.config.recorder_claim_idle_ms / 2000
                    items = await self._reclaim(streams)
                if not items and loop.time() >= next_maintain:
                    next_maintain = loop.time() + self.maintain_every_s
                    await self.maintain(streams)
                if not items:
                    items = await self._read_new(streams, self.config.recorder_block_ms)
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
                self._groups.clear()
                own.clear()
                await backoff.sleep(self._stopping)
                continue
            except Exception as exc:  # noqa: BLE001 - handed to the writer, which re-raises it
                await queue.put(exc)
                return
            if items:
                self._in_flight.update((i.stream, i.entry_id) for i in items)
                await queue.put(items)
        for _ in range(self.writers):
            await queue.put(None)

    async def _writer(self, writer: int, queue: asyncio.Queue[list[Item] | BaseException | None]) -> None:
        while (batch := await queue.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            try:
                await self._store(batch, writer)
            finally:
                self._in_flight.difference_update((i.stream, i.entry_id) for i in batch)

    async def run(self) -> None:
        """Read and store until stopped. Several writers (each its own Postgres connection and
        transaction) let Postgres use more than one core; they are as safe together as separate
        consumers are."""
        log.info("recorder %s started", self.name)
        queue: asyncio.Queue[list[Item] | BaseException | None] = asyncio.Queue(maxsize=self.writers)
        reader = asyncio.create_task(self._reader(queue))
        writers = [asyncio.create_task(self._writer(i, queue)) for i in range(self.writers)]
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


async def main(config: Config, consumer_name: str) -> None:
    redis = create_redis(config.redis_url or "")
    metrics = RecorderMetrics()
    if config.recorder_metrics_port:
        metrics.serve(config.host, config.recorder_metrics_port)
        log.info("metrics on http://%s:%d/metrics", config.host, config.recorder_metrics_port)
    recorder = Recorder(config, redis, consumer_name, metrics=metrics)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, recorder.stop)  # the batch in hand is committed before exit
    try:
        await recorder.run()
    finally:
        await redis.aclose()
