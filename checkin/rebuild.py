"""Rebuild an event's live state in Redis from Postgres after Redis lost its data.

Presence and counters are re-derived from the scan log (the truth); the roster, gates, devices,
revocations and durable watermarks are reloaded by `events.load_event`. Only done for an event whose
Redis `meta` is gone, since otherwise Redis holds scans Postgres has not stored yet.
"""

from __future__ import annotations

import logging

import asyncpg
import orjson
import redis.asyncio as aioredis

from checkin.events import load_event
from checkin.keys import Keys

log = logging.getLogger(__name__)

_LAST_STATE = """
WITH last AS (
    SELECT DISTINCT ON (s.volunteer_id) s.volunteer_id, s.scan_id, s.verdict, s.scanned_at, g.zone_id
    FROM scans s LEFT JOIN gates g ON g.gate_id = s.gate_id
    WHERE s.event_id = $1 AND s.volunteer_id IS NOT NULL AND s.verdict IN ('checked_in', 'checked_out')
    ORDER BY s.volunteer_id, s.scanned_at DESC, s.received_at DESC
)
SELECT l.volunteer_id, l.scan_id, l.verdict, l.scanned_at, coalesce(l.zone_id, '') AS zone,
       coalesce(t.name, '') AS team, v.birth_year
FROM last l JOIN volunteers v USING (volunteer_id) LEFT JOIN teams t USING (team_id)
"""


def _ms(moment: object) -> int:
    return int(moment.timestamp() * 1000)  # type: ignore[attr-defined]


async def rebuild_live_state(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str) -> int:
    """Presence and counters from the scan log, then the event reloaded; returns volunteers on site."""
    starts_on = await conn.fetchval("SELECT starts_on FROM events WHERE event_id = $1", event_id)
    if starts_on is None:
        raise LookupError(f"no event {event_id!r}")
    senior_from_year = starts_on.year - 65
    presence: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for row in await conn.fetch(_LAST_STATE, event_id):
        at = _ms(row["scanned_at"])
        if row["verdict"] == "checked_in":
            presence[row["volunteer_id"]] = orjson.dumps(
                {"on": 1, "last": at, "cid": str(row["scan_id"]), "cat": at, "z": row["zone"]})
            for name in ("on_site", f"zone:{row['zone']}", f"team:{row['team']}"):
                counts[name] = counts.get(name, 0) + 1
            if row["birth_year"] is not None and row["birth_year"] <= senior_from_year:
                counts["senior"] = counts.get("senior", 0) + 1
        else:
            presence[row["volunteer_id"]] = orjson.dumps({"on": 0, "last": at, "z": row["zone"]})
    totals = {"checked_in": "in_total", "checked_out": "out_total", "duplicate": "dup_total", "rejected": "rej_total"}
    for row in await conn.fetch("SELECT verdict, count(*) AS n FROM scans WHERE event_id = $1 GROUP BY verdict",
                                event_id):
        counts[totals[row["verdict"]]] = row["n"]
    ev = keys.event(event_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(ev.presence, ev.counts)
        if presence:
            pipe.hset(ev.presence, mapping=presence)
        if counts:
            pipe.hset(ev.counts, mapping=counts)
        await pipe.execute()
    await load_event(conn, redis, keys, event_id)  # writes meta last: scans are refused until then
    log.warning("rebuilt live state of %s from Postgres: %d on site", event_id, counts.get("on_site", 0))
    return counts.get("on_site", 0)


async def rebuild_if_lost(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str) -> bool:
    """Rebuild the event if Redis has lost it, under a lock so that two processes never both do.

    The check is repeated under the lock: once one rebuild has restored `meta`, scans change the
    live state again and a second rebuild would throw their effects away.
    """
    ev = keys.event(event_id)
    lock = f"{ev.meta}:rebuilding"
    if not await redis.set(lock, "1", nx=True, px=120_000):
        return False
    try:
        if await redis.exists(ev.meta):
            return False
        await rebuild_live_state(conn, redis, keys, event_id)
        return True
    finally:
        await redis.delete(lock)


async def ensure_loaded(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys) -> list[str]:
    """Rebuild every open or closed event whose state Redis has lost; return their ids."""
    rebuilt = []
    for row in await conn.fetch("SELECT event_id FROM events WHERE status <> 'draft' ORDER BY event_id"):
        if await rebuild_if_lost(conn, redis, keys, row["event_id"]):
            rebuilt.append(row["event_id"])
    return rebuilt
