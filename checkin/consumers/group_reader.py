"""The recorder's reading side: which event streams exist, what the group hands this consumer (new
entries, its own unacknowledged ones after a restart, a dead consumer's after the idle time), each entry
turned into a line of COPY text, the entries that cannot be stored parked in the dead-letter stream, and
trimming what every group has acknowledged. Composed into checkin.consumers.recorder.Recorder.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT, KeyT, StreamIdT

from checkin.config import Config
from checkin.consumers.metrics import RecorderMetrics
from checkin.consumers.scan_writer import copy_line, copy_line_flat
from checkin.keys import Keys
from checkin.redis_conn import is_cluster
from checkin.streams import RECORDER_GROUP, BadEntry, group_backlogs, parse_entry, trim_acknowledged

log = logging.getLogger("checkin.consumers.recorder")  # one logger for the whole consumer
Fields = dict[bytes, bytes] | list[bytes]


def _as_dict(fields: Fields) -> dict[bytes, bytes]:
    return fields if isinstance(fields, dict) else dict(zip(fields[0::2], fields[1::2], strict=False))



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


class GroupReader:
    """One consumer name's view of the group "recorder" on every event stream."""

    def __init__(self, config: Config, redis: aioredis.Redis, name: str, *, stats: RecorderStats,
                 metrics: RecorderMetrics, trim_keep_ms: int = 60_000) -> None:
        self.config = config
        self.redis = redis
        self.keys = Keys(config.redis_prefix)
        self.name = name
        self.stats = stats
        self.metrics = metrics
        self.trim_keep_ms = trim_keep_ms
        self._groups: set[str] = set()
        self.event_of: dict[str, str] = {}  # stream key -> event id
        self.in_flight: set[tuple[str, bytes]] = set()  # read and not yet acknowledged, in this process
        # A multi-stream XREADGROUP must stay in one slot of a cluster: there, each stream is read alone.
        self.cluster = is_cluster(redis)
        self._raw = None if self.cluster else redis.client()  # its XREADGROUP replies stay unparsed
        if self._raw is not None:
            self._raw.set_response_callback("XREADGROUP", lambda response, **_: response)

    def forget_groups(self) -> None:
        """Redis lost the groups (a restart without persistence): make them again on the next read."""
        self._groups.clear()

    async def aclose(self) -> None:
        if self._raw is not None:
            await self._raw.aclose()

    async def streams(self) -> list[str]:
        """The event streams, creating the group on streams seen for the first time."""
        members = cast("set[bytes]", await self.redis.smembers(self.keys.events))  # decode_responses is off
        events = sorted(e.decode() for e in members)
        streams = []
        for event_id in events:
            stream = self.keys.event(event_id).stream
            self.event_of[stream] = event_id
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
            event_id = self.event_of[stream]
            event_b = event_id.encode()
            counts = await self._deliveries(stream, [m[0] for m in messages]) if redelivered and messages else {}
            for entry_id, fields in messages:
                if not fields:  # trimmed away while pending: nothing left to store
                    gone.append((stream, entry_id))
                    continue
                if redelivered and (stream, entry_id) in self.in_flight:
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
            await self.dead_letter(dead)
        for stream, entry_id in gone:
            await self.redis.xack(stream, RECORDER_GROUP, entry_id)
        return items

    async def dead_letter(self, dead: list[tuple[str, bytes, Fields, str]]) -> None:
        """Park entries with the reason in the event's dead-letter stream, and acknowledge them."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, entry_id, fields, error in dead:
                ev = self.keys.event(self.event_of[stream])
                entry = {**_as_dict(fields), b"_error": error.encode(), b"_id": entry_id,
                         b"_stream": stream.encode(), b"_consumer": self.name.encode()}
                pipe.xadd(ev.dead_letters, cast("dict[FieldT, EncodableT]", entry))  # redis-py's Dict is invariant
                pipe.xack(stream, RECORDER_GROUP, entry_id)
            await pipe.execute()
        for stream, entry_id, _, error in dead:
            log.warning("dead-lettered %s %s: %s", stream, entry_id.decode(), error)
        self.stats.dead_letters += len(dead)
        self.metrics.dead_letters.inc(len(dead))

    def spent(self, stage: str, since: float) -> float:
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

    async def read_new(self, streams: list[str], block_ms: int) -> list[Item]:
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
        self.spent("parse", started)
        return items

    async def read_own_pending(self, streams: list[str], own: dict[str, bytes | None]) -> list[Item]:
        """Entries this consumer name read before a restart and never acknowledged. `own` holds a
        cursor per stream, None once that stream's pending list has been read through."""
        todo = cast("dict[str, bytes]",  # the None cursors are left out
                    {s: own.get(s, b"0") for s in streams if own.get(s, b"0") is not None})
        if not todo:
            return []
        reply: list[Any] | None
        if self.cluster:
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

    async def reclaim(self, streams: list[str]) -> list[Item]:
        """Entries left pending by a dead consumer, taken over after the idle time."""
        reply = []
        for stream in streams:
            _, claimed, _ = await self.redis.xautoclaim(
                stream, RECORDER_GROUP, self.name, self.config.recorder_claim_idle_ms, "0-0",
                count=self.config.recorder_batch)
            claimed = [c for c in claimed if (stream, c[0]) not in self.in_flight]
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
            event_id = self.event_of[stream]
            length = int(await self.redis.xlen(stream))
            dlq = int(await self.redis.xlen(self.keys.event(event_id).dead_letters))
            self.metrics.backlog(event_id, backlogs.get(RECORDER_GROUP), length, dlq, now_ms)
