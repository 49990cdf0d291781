"""Rebuild an event's live state in Redis from Postgres after Redis lost its data.

Presence and counters are re-derived from the scan log (the truth); the roster, gates, devices,
revocations and durable watermarks are reloaded by `events.load_event`. Only done for an event whose
Redis `meta` is gone, since otherwise Redis holds scans Postgres has not stored yet.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, time
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from checkin.events.store import load_event, service_offset
from checkin.keys import Keys
from checkin.live.day_counts import HOURS, SCAN_TAGS, gate_field, hour_field
from checkin.scan.rules import day_offset_min

log = logging.getLogger(__name__)
LOCK_MS = 20_000

# Each volunteer's last two accepted, not annulled scans, and the check-in a last check-out closed.
_LAST_STATE = """
WITH accepted AS (
    SELECT s.volunteer_id, s.scan_id, s.verdict, s.scanned_at, s.session_scan_id, s.gate_id,
           row_number() OVER (PARTITION BY s.volunteer_id ORDER BY s.scanned_at DESC, s.received_at DESC) AS rn
    FROM scans s
    WHERE s.event_id = $1 AND s.volunteer_id IS NOT NULL AND s.verdict IN ('checked_in', 'checked_out')
      AND NOT EXISTS (SELECT 1 FROM annulments a WHERE a.scan_id = s.scan_id)
)
SELECT l.volunteer_id, l.scan_id, l.verdict, l.scanned_at, prev.scanned_at AS prev_at,
       l.session_scan_id, ci.scanned_at AS checkin_at, coalesce(gi.zone_id, g.zone_id, '') AS zone,
       coalesce(t.name, '') AS team, v.birth_year
FROM accepted l
JOIN volunteers v ON v.volunteer_id = l.volunteer_id
LEFT JOIN teams t ON t.team_id = v.team_id
LEFT JOIN accepted prev ON prev.volunteer_id = l.volunteer_id AND prev.rn = 2
LEFT JOIN gates g ON g.gate_id = l.gate_id
LEFT JOIN scans ci ON ci.scan_id = l.session_scan_id
LEFT JOIN gates gi ON gi.gate_id = ci.gate_id
WHERE l.rn = 1
"""

# Finished sessions, for the minutes each volunteer has served on the service day of their last scan.
_SESSIONS = """
SELECT s.volunteer_id, s.in_at, s.out_at FROM sessions s
WHERE s.event_id = $1 AND s.in_at IS NOT NULL AND s.out_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM annulments a WHERE a.scan_id IN (s.checkin_scan_id, s.checkout_scan_id))
"""


# Today's figures as the scan script counts them (checkin/live/day_counts.py): scans per verdict, service hour and gate.
_DAY_COUNTS = """
SELECT verdict, gate_id, reason IS DISTINCT FROM 'wrong_gate' AS at_gate,
       floor((extract(epoch FROM scanned_at) * 1000 + $2) / 3600000)::bigint AS hour,
       count(*) AS n, max(scanned_at) AS last
FROM scans WHERE event_id = $1
GROUP BY verdict, gate_id, at_gate, hour
"""


def _ms(moment: object) -> int:
    return int(moment.timestamp() * 1000)  # type: ignore[attr-defined]


def _presence(row: Any, zone: str, day: int, served: int) -> dict[str, Any]:
    """The presence record as the scan script writes it (see checkin/scan/lua/scan.lua)."""
    at = _ms(row["scanned_at"])
    record: dict[str, Any] = {"last": at, "z": zone, "dd": day, "dm": served}
    if row["prev_at"] is not None:
        record["pl"] = _ms(row["prev_at"])
    if row["verdict"] == "checked_in":
        record.update(on=1, cid=str(row["scan_id"]), cat=at)
    else:
        record["on"] = 0
        if row["session_scan_id"] is not None and row["checkin_at"] is not None:
            record.update(pcid=str(row["session_scan_id"]), pcat=_ms(row["checkin_at"]))
    return record


async def rebuild_live_state(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str) -> int:
    """Presence and counters from the scan log, then the event reloaded; returns volunteers on site."""
    event = await conn.fetchrow("SELECT starts_on, tz, policy FROM events WHERE event_id = $1", event_id)
    if event is None:
        raise LookupError(f"no event {event_id!r}")
    senior_from_year = event["starts_on"].year - 65
    tz = ZoneInfo(event["tz"])
    # The same fixed offset load_event gives the script, so service days are counted alike.
    offset_ms = day_offset_min(event["tz"], _ms(datetime.combine(event["starts_on"], time(0), tz))) * 60_000

    def day_of(ms: int) -> int:
        return (ms + offset_ms) // 86_400_000

    served: dict[tuple[str, int], int] = {}
    for row in await conn.fetch(_SESSIONS, event_id):
        key = (row["volunteer_id"], day_of(_ms(row["out_at"])))
        served[key] = served.get(key, 0) + max(0, (_ms(row["out_at"]) - _ms(row["in_at"])) // 60_000)
    presence: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for row in await conn.fetch(_LAST_STATE, event_id):
        day = day_of(_ms(row["scanned_at"]))
        record = _presence(row, row["zone"], day, served.get((row["volunteer_id"], day), 0))
        presence[row["volunteer_id"]] = orjson.dumps(record)
        if record["on"]:
            for name in ("on_site", f"zone:{row['zone']}", f"team:{row['team']}"):
                counts[name] = counts.get(name, 0) + 1
            if row["birth_year"] is not None and row["birth_year"] <= senior_from_year:
                counts["senior"] = counts.get("senior", 0) + 1
    totals = {"checked_in": "in_total", "checked_out": "out_total", "duplicate": "dup_total", "rejected": "rej_total"}
    for row in await conn.fetch("SELECT verdict, count(*) AS n FROM scans WHERE event_id = $1 GROUP BY verdict",
                                event_id):
        counts[totals[row["verdict"]]] = row["n"]
    annulled = await conn.fetchval("SELECT count(*) FROM annulments WHERE event_id = $1", event_id)
    if annulled:  # the script makes the field at the first annulment
        counts["annul_total"] = annulled
    counts.update(await day_counts(conn, event_id, service_offset(event)))
    ev = keys.event(event_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(ev.presence, ev.counts)
        if presence:
            # redis-py's Mapping key type is invariant: a dict[str, ...] is refused though it is fine
            pipe.hset(ev.presence, mapping=cast("dict[FieldT, EncodableT]", presence))
        if counts:
            pipe.hset(ev.counts, mapping=cast("dict[FieldT, EncodableT]", counts))
        await pipe.execute()
    await load_event(conn, redis, keys, event_id)  # writes meta last: scans are refused until then
    log.warning("rebuilt live state of %s from Postgres: %d on site", event_id, counts.get("on_site", 0))
    return counts.get("on_site", 0)


async def day_counts(conn: asyncpg.Connection, event_id: str, offset_ms: int) -> dict[str, int]:
    """Every per-hour and per-gate field the scan script would hold had it counted the whole scan log."""
    counts: dict[str, int] = {}
    for row in await conn.fetch(_DAY_COUNTS, event_id, offset_ms):
        at = _ms(row["last"])
        tag = SCAN_TAGS[row["verdict"]]
        name = hour_field(tag, row["hour"])
        counts[name] = counts.get(name, 0) + row["n"]
        if row["at_gate"]:
            day = row["hour"] // HOURS
            if tag in ("in", "out"):
                name = gate_field("g" + tag, day, row["gate_id"])
                counts[name] = counts.get(name, 0) + row["n"]
            last = gate_field("gat", day, row["gate_id"])
            counts[last] = max(counts.get(last, 0), at)
    return counts


async def rebuild_if_lost(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str) -> bool:
    """Rebuild the event if Redis has lost it, under a lock so that two processes never both do.

    The check is repeated under the lock: once one rebuild has restored `meta`, scans change the
    live state again and a second rebuild would throw their effects away.
    """
    if await conn.fetchval("SELECT status FROM events WHERE event_id = $1", event_id) in (None, "draft"):
        return False  # a draft is loaded when it opens, never because a request named it
    ev = keys.event(event_id)
    lock = f"{ev.meta}:rebuilding"
    # Short-lived: a rebuild that died half way (Redis restarting under it) must not block the next try for long.
    if not await redis.set(lock, "1", nx=True, px=LOCK_MS):
        return False
    try:
        if await redis.exists(ev.meta):
            return False
        await rebuild_live_state(conn, redis, keys, event_id)
        return True
    finally:
        with contextlib.suppress(RedisError):
            await redis.delete(lock)


async def ensure_loaded(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys) -> list[str]:
    """Rebuild every open or closed event whose state Redis has lost; return their ids."""
    rebuilt = []
    for row in await conn.fetch("SELECT event_id FROM events WHERE status <> 'draft' ORDER BY event_id"):
        if await rebuild_if_lost(conn, redis, keys, row["event_id"]):
            rebuilt.append(row["event_id"])
    return rebuilt
