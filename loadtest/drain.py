"""Recorder drain rate: a backlog built while no recorder runs, then timed as a fresh recorder stores it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from checkin.access.accounts import enroll_device
from checkin.keys import Keys
from checkin.scan.script import SCRIPT
from checkin.streams import RECORDER_GROUP
from loadtest.reference import RespPipe, scan_commands


async def build_backlog(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, redis_url: str,
                        event_id: str, gate_id: str, card_ids: list[str], rows: int,
                        devices: int = 16) -> list[str]:
    """`rows` scans through the real script from kiosks of their own, on a day after the plan."""
    await redis.script_load(SCRIPT)
    ev = keys.event(event_id)
    start = int(datetime(2024, 2, 5, 1, tzinfo=UTC).timestamp() * 1000)
    per_device = rows // devices
    device_ids = []
    pipe = await RespPipe.connect(redis_url)
    try:
        for d in range(devices):
            device_id, token = await enroll_device(conn, redis, keys, event_id, gate_id, f"drain kiosk {d}")
            device_ids.append(device_id)
            cards = card_ids[d::devices][:per_device]
            rounds = -(-per_device // len(cards))
            commands = list(scan_commands(ev, device_id, token, gate_id, cards, start, rounds))[:per_device]
            await pipe.run(commands)
    finally:
        await pipe.close()
    return device_ids


async def group_backlog(redis: aioredis.Redis, stream: str) -> tuple[int, int]:
    """(entries not yet delivered, entries delivered but not acknowledged) for the recorder group."""
    for group in await redis.xinfo_groups(stream):
        name = group.get("name")
        if name in (RECORDER_GROUP, RECORDER_GROUP.encode()):
            return int(group.get("lag") or 0), int(group.get("pending") or 0)
    return 0, 0


async def time_drain(redis: aioredis.Redis, stream: str, expected: int, timeout_s: float) -> dict[str, float]:
    """Poll the group until the backlog is gone; the rate runs from the first stored batch to the last."""
    began = time.perf_counter()
    first: tuple[float, int] | None = None
    left = expected
    while time.perf_counter() - began < timeout_s:
        lag, pending = await group_backlog(redis, stream)
        left = lag + pending
        now = time.perf_counter()
        if first is None and left < expected:
            first = (now, left)
        if left == 0:
            break
        await asyncio.sleep(0.02)
    done = time.perf_counter()
    if first is None or left:
        return {"rows": expected, "left": left, "rows_per_s": 0.0, "seconds": round(done - began, 2)}
    seconds = done - first[0]
    return {"rows": expected, "left": 0, "seconds": round(seconds, 3),
            "rows_per_s": round(first[1] / seconds) if seconds > 0 else 0.0,
            "startup_s": round(first[0] - began, 2)}
