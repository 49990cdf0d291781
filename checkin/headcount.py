"""Headcounts from Redis: counters, presence and the stream position read together, then the stream.

The scan script moves the counters and the presence hash and appends to the stream in one atomic
call, so one MULTI reading all three gives a state that includes exactly the entries up to the
stream id it returns. Everything after that id is read with XREAD / XRANGE and applied on top.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis.asyncio as aioredis

from checkin.keys import EventKeys

Fields = dict[bytes, bytes]
Entries = list[tuple[bytes, Fields]]  # XRANGE's reply with decode_responses off
RANGE_CHUNK = 5000


@dataclass
class Snapshot:
    counts: dict[str, int]
    presence: dict[str, tuple[bool, int]]  # volunteer id -> (on site, last scan ms)
    stream_id: str


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
        counts_raw, presence_raw, last = await pipe.execute()
    counts = {k.decode(): int(v) for k, v in counts_raw.items()}
    stream_id = last[0][0].decode() if last else "0-0"
    return Snapshot(counts, _presence(presence_raw), stream_id)


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


def apply_entry(counts: dict[str, int], fields: Fields) -> list[str]:
    """Move the counters as the scan script did for this entry; return the names that changed."""
    verdict = fields.get(b"verdict", b"").decode()
    zone = "zone:" + fields.get(b"zone", b"").decode()
    team = "team:" + fields.get(b"team", b"").decode()
    senior = fields.get(b"senior") == b"1"
    if verdict in ("checked_in", "checked_out"):
        step = 1 if verdict == "checked_in" else -1
        names = ["on_site", zone, team] + (["senior"] if senior else [])
        total = "in_total" if step == 1 else "out_total"
    elif verdict == "annulled":  # an undone scan (checkin/lua/annul.lua): 'undo' says which step it took back
        step = {b"in": -1, b"out": 1}.get(fields.get(b"undo") or b"", 0)
        names = (["on_site", zone, team] + (["senior"] if senior else [])) if step else []
        total = "annul_total"
    else:
        step, names, total = 0, [], "dup_total" if verdict == "duplicate" else "rej_total"
    for name in names:
        counts[name] = counts.get(name, 0) + step
    counts[total] = counts.get(total, 0) + 1
    return names + [total]


def shape(counts: dict[str, int]) -> dict[str, Any]:
    """The bare counters as JSON: totals plus per-zone and per-team maps."""
    out: dict[str, Any] = {
        "on_site": counts.get("on_site", 0),
        "checked_in": counts.get("in_total", 0),
        "checked_out": counts.get("out_total", 0),
        "duplicates": counts.get("dup_total", 0),
        "rejected": counts.get("rej_total", 0),
        "seniors_on_site": counts.get("senior", 0),
        "zones": {},
        "teams": {},
    }
    for name, value in counts.items():
        kind, _, key = name.partition(":")
        if kind == "zone":
            out["zones"][key] = value
        elif kind == "team":
            out["teams"][key] = value
    return out
