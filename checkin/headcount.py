"""Headcounts: a consistent snapshot from Redis, and the same counters moved by each stream entry."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from checkin.keys import EventKeys


async def snapshot(redis: aioredis.Redis, ev: EventKeys) -> tuple[dict[str, int], str]:
    """The event's counters and the stream id they include, read in one transaction."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(ev.counts)
        pipe.xrevrange(ev.stream, count=1)
        counts_raw, last = await pipe.execute()
    counts = {k.decode(): int(v) for k, v in counts_raw.items()}
    stream_id = last[0][0].decode() if last else "0-0"
    return counts, stream_id


def apply_entry(counts: dict[str, int], fields: dict[bytes, bytes]) -> list[str]:
    """Move the counters as the scan script did for this entry; return the names that changed."""
    verdict = fields.get(b"verdict", b"").decode()
    zone = "zone:" + fields.get(b"zone", b"").decode()
    team = "team:" + fields.get(b"team", b"").decode()
    senior = fields.get(b"senior") == b"1"
    if verdict == "checked_in":
        step, names = 1, ["on_site", zone, team] + (["senior"] if senior else [])
        total = "in_total"
    elif verdict == "checked_out":
        step, names = -1, ["on_site", zone, team] + (["senior"] if senior else [])
        total = "out_total"
    else:
        step, names, total = 0, [], "dup_total" if verdict == "duplicate" else "rej_total"
    for name in names:
        counts[name] = counts.get(name, 0) + step
    counts[total] = counts.get(total, 0) + 1
    return names + [total]


def shape(counts: dict[str, int]) -> dict[str, Any]:
    """The JSON a dashboard reads: totals plus per-zone and per-team maps."""
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
