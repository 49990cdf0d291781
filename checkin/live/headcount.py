"""Headcounts from Redis: counters, presence and the stream position read together, then the stream.

The scan script moves the counters and the presence hash and appends to the stream in one atomic
call, so one MULTI reading all three gives a state that includes exactly the entries up to the
stream id it returns. Everything after that id is read with XREAD / XRANGE and applied on top.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import orjson
import redis.asyncio as aioredis

from checkin.keys import EventKeys
from checkin.live.snapshot import Fields, Snapshot

Entries = list[tuple[bytes, Fields]]  # XRANGE's reply with decode_responses off
RANGE_CHUNK = 5000


def _presence(raw: dict[bytes, bytes]) -> dict[str, tuple[bool, int]]:
    out: dict[str, tuple[bool, int]] = {}
    for vid, record in raw.items():
        try:
            p = orjson.loads(record)
            out[vid.decode()] = (p.get("on") == 1, int(p.get("last") or 0))
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
            continue  # a record the script did not write; it cannot count anyone
    return out


async def read_snapshot(redis: aioredis.Redis, ev: EventKeys) -> Snapshot:
    """Counters, presence and the last stream id, in one transaction."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(ev.counts)
        pipe.hgetall(ev.presence)
        pipe.xrevrange(ev.stream, count=1)
        pipe.hget(ev.meta, "svc_off_ms")
        counts_raw, presence_raw, last, offset = await pipe.execute()
    counts = {k.decode(): int(v) for k, v in counts_raw.items()}
    stream_id = last[0][0].decode() if last else "0-0"
    return Snapshot(counts, _presence(presence_raw), stream_id, int(offset) if offset is not None else None)


async def entries_between(redis: aioredis.Redis, ev: EventKeys, first_ms: int,
                          last_id: str) -> AsyncIterator[tuple[str, Fields]]:
    """Stream entries added from `first_ms` (Redis clock) up to and including `last_id`."""
    start = f"{max(first_ms, 0)}-0"
    if last_id == "0-0":
        return
    while True:
        chunk = cast(Entries, await redis.xrange(ev.stream, min=start, max=last_id, count=RANGE_CHUNK))
        for entry_id, fields in chunk:
            yield entry_id.decode(), fields
        if len(chunk) < RANGE_CHUNK:
            return
        start = "(" + chunk[-1][0].decode()


async def entries_after(redis: aioredis.Redis, ev: EventKeys, after_id: str,
                        limit: int = RANGE_CHUNK) -> list[tuple[str, Fields]]:
    """Entries after `after_id`, without blocking (for a state brought forward on demand)."""
    chunk = cast(Entries, await redis.xrange(ev.stream, min="(" + after_id, max="+", count=limit))
    return [(entry_id.decode(), fields) for entry_id, fields in chunk]
