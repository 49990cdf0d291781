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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT, KeyT, StreamIdT

from checkin.config import Config
from checkin.consumers.metrics import RecorderMetrics
from checkin.consumers.scan_writer import (
    Backoff,
    DataProblem,
    Stopped,
    classify,
    copy_line,
    copy_line_flat,
    prepare,
    write_batch,
)
from checkin.keys import Keys
from checkin.redis_conn import create_redis, is_cluster
from checkin.streams import (
    RECORDER_GROUP,
    BadEntry,
    group_backlogs,
    parse_entry,
    trim_acknowledged,
)

log = logging.getLogger(__name__)
Fields = dict[bytes, bytes] | list[bytes]


def _as_dict(fields: Fields) -> dict[bytes, bytes]:
    return fields if isinstance(fields, dict) else dict(zip(fields[0::2], fields[1::2], strict=False))


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


class Item(NamedTuple):
    """One stream entry on its way to Postgres, with what a dead letter needs."""

    stream: str
    entry_id: bytes
    fields: Fields  # as parsed, or as the server sent it (field, value, ...)
    line: bytes  # the scan as a line of COPY text


@dataclass
class RecorderStats:
    batches: int = 0
    rows: int = 0
    dead_letters: int = 0
    reclaimed: int = 0
    last_error: str | None = None
    stages: dict[str, float] = field(default_factory=dict)


class Recorder:
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

    # --- reading -------------------------------------------------------------------------

    async def _streams(self) -> list[str]:
        """The event streams, creating the group on streams seen for the first time."""
        members = cast("set[bytes]", await self.redis.smembers(self.keys.events))  # decode_responses is off
        events = sorted(e.decode() for e in members)
        streams = []
        for event_id in events:
            stream = self.keys.event(event_id).stream
            self._event_of[stream] = event_id
            streams.append(stream)
            if stream not in self._groups:
                try:
                    await self.redis.xgroup_create(stream, RECORDER_GROUP, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                self._groups.add(stream)
        return streams

    async def _deliveries(self, stream: str, ids: list[bytes]) -> dict[bytes, int]:
        """How often each of our pending entries has been delivered (re-reads and reclaims only)."""
        rows = await self.redis.xpending_range(stream, RECORDER_GROUP, min=ids[0], max=ids[-1],
                                               count=len(ids) + 4 * self.config.recorder_batch,
                                               consumername=self.name)
        return {cast(bytes, r["message_id"]): int(r["times_delivered"]) for r in rows}

    async def _parse(self, reply: list[Any], redelivered: bool) -> list[Item]:
        items: list[Item] = []
        dead: list[tuple[str, bytes, Fields, str]] = []
        gone: list[tuple[str, bytes]] = []
        for stream_raw, messages in reply:
            stream = stream_raw.decode() if isinstance(stream_raw, bytes) else stream_raw
            event_id = self._event_of[stream]
            event_b = event_id.encode()
            counts = await self._deliveries(stream, [m[0] for m in messages]) if redelivered and messages else {}
            for entry_id, fields in messages:
                if not fields:  # trimmed away while pending: nothing left to store
                    gone.append((stream, entry_id))
                    continue
                if redelivered and (stream, entry_id) in self._in_flight:
                    continue  # already on its way to Postgres in this process
                if counts.get(entry_id, 0) > self.config.recorder_max_deliveries:
                    dead.append((stream, entry_id, fields, f"delivered {counts[entry_id]} times"))
                    continue
                if isinstance(fields, list):
                    line = copy_line_flat(event_b, entry_id, fields)
                else:
                    line = copy_line(event_b, entry_id, fields)
                if line is not None:
                    items.append(Item(stream, entry_id, fields, line))
                    continue
                fields = _as_dict(fields)
                if fields.get(b"verdict") == b"annulled":  # the gateway stored it in annulments; it is for live views
                    gone.append((stream, entry_id))
                    continue
                try:  # only to say what is wrong with it
                    parse_entry(event_id, entry_id, fields)
                    dead.append((stream, entry_id, fields, "incomplete entry"))
                except BadEntry as exc:
                    dead.append((stream, entry_id, fields, str(exc)))
        if dead:
            await self._dead_letter(dead)
        for stream, entry_id in gone:
            await self.redis.xack(stream, RECORDER_GROUP, entry_id)
        return items

    async def _dead_letter(self, dead: list[tuple[str, bytes, Fields, str]]) -> None:
        """Park entries with the reason in the event's dead-letter stream, and acknowledge them."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, entry_id, fields, error in dead:
                ev = self.keys.event(self._event_of[stream])
                entry = {**_as_dict(fields), b"_error": error.encode(), b"_id": entry_id,
                         b"_stream": stream.encode(), b"_consumer": self.name.encode()}
                pipe.xadd(ev.dead_letters, cast("dict[FieldT, EncodableT]", entry))  # redis-py's Dict is invariant
                pipe.xack(stream, RECORDER_GROUP, entry_id)
            await pipe.execute()
        for stream, entry_id, _, error in dead:
            log.warning("dead-lettered %s %s: %s", stream, entry_id.decode(), error)
        self.stats.dead_letters += len(dead)
        self.metrics.dead_letters.inc(len(dead))

    def _spent(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stats.stages[stage] = self.stats.stages.get(stage, 0.0) + (now - since)
        self.metrics.stage_seconds.labels(stage).inc(now - since)
        return now

    async def _read_cluster(self, streams: Mapping[str, bytes | str], block_ms: int) -> list[Any]:
        """One XREADGROUP per stream (each its own slot); a short pause when all were empty."""
        reply: list[Any] = []
        for stream, start in streams.items():
            got = await self.redis.xreadgroup(RECORDER_GROUP, self.name, {stream: start},
                                              count=self.config.recorder_batch)
            reply.extend(got or [])
        if not reply and block_ms:
            await asyncio.sleep(min(block_ms, 100) / 1000)
        return reply

    async def _read_new(self, streams: list[str], block_ms: int) -> list[Item]:
        if self._raw is None:
            reply: Any = await self._read_cluster(dict.fromkeys(streams, ">"), block_ms)
        else:
            # the raw reply: redis-py's own parsing into dicts costs more than the rest of our Python per entry
            reply = await self._raw.xreadgroup(RECORDER_GROUP, self.name, dict.fromkeys(streams, ">"),
                                               count=self.config.recorder_batch, block=block_ms)
        if not reply:
            return []
        started = time.perf_counter()
        items = await self._parse(list(reply.items()) if isinstance(reply, dict) else reply, redelivered=False)
        self._spent("parse", started)
        return items

    async def _read_own_pending(self, streams: list[str], own: dict[str, bytes | None]) -> list[Item]:
        """Entries this consumer name read before a restart and never acknowledged. `own` holds a
        cursor per stream, None once that stream's pending list has been read through."""
        todo = cast("dict[str, bytes]",  # the None cursors are left out
                    {s: own.get(s, b"0") for s in streams if own.get(s, b"0") is not None})
        if not todo:
            return []
        reply: list[Any] | None
        if self._cluster:
            reply = await self._read_cluster(todo, 0)
        else:
            reply = cast("list[Any] | None", await self.redis.xreadgroup(
                RECORDER_GROUP, self.name, cast("dict[KeyT, StreamIdT]", todo), count=self.config.recorder_batch))
        seen: list[tuple[object, list[Any]]] = []
        for stream_raw, messages in reply or []:
            stream = stream_raw.decode() if isinstance(stream_raw, bytes) else stream_raw
            own[stream] = messages[-1][0] if messages else None
            if messages:
                seen.append((stream, messages))
        for stream in todo:
            if stream not in {(s.decode() if isinstance(s, bytes) else s) for s, _ in reply or []}:
                own[stream] = None
        return await self._parse(seen, redelivered=True)

    async def _reclaim(self, streams: list[str]) -> list[Item]:
        """Entries left pending by a dead consumer, taken over after the idle time."""
        reply = []
        for stream in streams:
            _, claimed, _ = await self.redis.xautoclaim(
                stream, RECORDER_GROUP, self.name, self.config.recorder_claim_idle_ms, "0-0",
                count=self.config.recorder_batch)
            claimed = [c for c in claimed if (stream, c[0]) not in self._in_flight]
            if claimed:
                self.stats.reclaimed += len(claimed)
                self.metrics.reclaimed.inc(len(claimed))
                reply.append((stream, claimed))
        return await self._parse(reply, redelivered=True)

    async def maintain(self, streams: list[str]) -> None:
        """Trim what every group has acknowledged, and refresh the backlog gauges."""
        now_ms = int(time.time() * 1000)
        for stream in streams:
            backlogs = await group_backlogs(self.redis, stream)
            await trim_acknowledged(self.redis, stream, backlogs, keep_ms=self.trim_keep_ms, now_ms=now_ms)
            event_id = self._event_of[stream]
            length = int(await self.redis.xlen(stream))
            dlq = int(await self.redis.xlen(self.keys.event(event_id).dead_letters))
            self.metrics.backlog(event_id, backlogs.get(RECORDER_GROUP), length, dlq, now_ms)

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
