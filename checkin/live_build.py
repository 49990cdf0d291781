"""Building an event's LiveState from Postgres (the roster) and Redis (snapshot, then today's stream)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis

from checkin.headcount import entries_after, entries_between, read_snapshot
from checkin.keys import EventKeys
from checkin.live_roster import load_roster
from checkin.live_view import LiveState


def day_start_ms(tz: str, now_ms: int) -> int:
    """Local midnight of the event's time zone on the day `now_ms` falls in."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(now_ms / 1000, zone)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)


async def build_state(pool: asyncpg.Pool, redis: aioredis.Redis, ev: EventKeys, now_ms: int) -> LiveState | None:
    """None when the event does not exist. The snapshot fixes the stream id; today's figures are
    then counted from the stream up to that same id, so nothing is counted twice or left out."""
    roster = await load_roster(pool, ev.event_id)
    if roster is None:
        return None
    snapshot = await read_snapshot(redis, ev)
    state = LiveState(roster, snapshot, day_start_ms(roster.tz, now_ms))
    async for _, fields in entries_between(redis, ev, state.day_start_ms, snapshot.stream_id):
        state.count_today(fields)
    return state


async def catch_up(redis: aioredis.Redis, ev: EventKeys, state: LiveState) -> int:
    """Apply every entry after the state's stream id (no blocking); return how many."""
    applied = 0
    while True:
        chunk = await entries_after(redis, ev, state.stream_id)
        for entry_id, fields in chunk:
            state.apply(entry_id, fields)
        applied += len(chunk)
        if not chunk or len(chunk) < 5000:
            return applied
