"""Building an event's LiveState from Postgres (the roster) and Redis (counters and presence, then the stream)."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis

from checkin.keys import EventKeys
from checkin.live.headcount import entries_after, entries_between, read_snapshot
from checkin.live.roster import load_roster
from checkin.live.view import RATE_WINDOW_MS, LiveState


async def build_state(pool: asyncpg.Pool, redis: aioredis.Redis, ev: EventKeys, now_ms: int) -> LiveState | None:
    """None when the event does not exist. The snapshot's counters hold today's figures (kept by the scan script,
    so a trimmed stream loses nothing); only the last minute of the stream is read, for the scan rate."""
    roster = await load_roster(pool, ev.event_id)
    if roster is None:
        return None
    snapshot = await read_snapshot(redis, ev)
    state = LiveState(roster, snapshot)
    async for _, fields in entries_between(redis, ev, now_ms - RATE_WINDOW_MS, snapshot.stream_id):
        state.note_received(fields)
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
