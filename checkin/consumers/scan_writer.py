"""One batch of stream entries into Postgres, in one transaction: scans, sessions, device watermarks."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence

import asyncpg

from checkin.streams import ScanEntry

_COLUMNS = [
    "scan_id", "event_id", "device_id", "seq", "gate_id", "card_id", "volunteer_id", "scanned_at",
    "device_time", "received_at", "verdict", "reason", "warnings", "session_scan_id", "source", "stream_id",
]

_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS scan_in AS SELECT {", ".join(_COLUMNS)} FROM scans WITH NO DATA
"""

# ORDER BY scan_id: two consumers inserting overlapping batches take index locks in one order.
_INSERT_SCANS = f"""
INSERT INTO scans ({", ".join(_COLUMNS)})
SELECT DISTINCT ON (scan_id) {", ".join(_COLUMNS)} FROM scan_in ORDER BY scan_id
ON CONFLICT (scan_id) DO NOTHING
"""

# Keyed by the check-in's scan id, one statement for both halves: whichever of the pair lands
# first creates the row, the other fills in its columns; a half already there is never blanked.
# One statement with keys in order also means two consumers lock session rows in the same order.
_SESSIONS = """
INSERT INTO sessions AS s (checkin_scan_id, event_id, volunteer_id, gate_in, in_at, checkout_scan_id, gate_out, out_at)
SELECT key, min(event_id), min(volunteer_id),
       min(gate_id) FILTER (WHERE verdict = 'checked_in'), min(scanned_at) FILTER (WHERE verdict = 'checked_in'),
       (array_agg(scan_id ORDER BY scanned_at, scan_id) FILTER (WHERE verdict = 'checked_out'))[1],
       (array_agg(gate_id ORDER BY scanned_at, scan_id) FILTER (WHERE verdict = 'checked_out'))[1],
       min(scanned_at) FILTER (WHERE verdict = 'checked_out')
FROM (SELECT CASE WHEN verdict = 'checked_in' THEN scan_id ELSE session_scan_id END AS key, *
      FROM scan_in
      WHERE verdict = 'checked_in' OR (verdict = 'checked_out' AND session_scan_id IS NOT NULL)) x
GROUP BY key ORDER BY key
ON CONFLICT (checkin_scan_id) DO UPDATE SET
    volunteer_id = coalesce(s.volunteer_id, EXCLUDED.volunteer_id),
    gate_in = coalesce(s.gate_in, EXCLUDED.gate_in),
    in_at = coalesce(s.in_at, EXCLUDED.in_at),
    checkout_scan_id = coalesce(s.checkout_scan_id, EXCLUDED.checkout_scan_id),
    gate_out = coalesce(s.gate_out, EXCLUDED.gate_out),
    out_at = coalesce(s.out_at, EXCLUDED.out_at)
WHERE s.in_at IS NULL OR s.out_at IS NULL
"""

# Serialize watermark work per device (rows locked in device order; a new row is locked by its insert). The next statement then
# takes a fresh snapshot that includes every batch committed before the lock was granted, so
# two consumers committing halves of one device's run cannot both miss the other's half.
_LOCK_DEVICES = """
WITH batch AS (SELECT DISTINCT device_id FROM scan_in),
new AS (
    INSERT INTO device_watermarks (device_id, durable_seq)
    SELECT device_id, 0 FROM batch ORDER BY device_id
    ON CONFLICT (device_id) DO NOTHING
)
SELECT device_id FROM device_watermarks WHERE device_id IN (SELECT device_id FROM batch)
ORDER BY device_id FOR UPDATE
"""

# The highest seq up to which every scan of the device is stored (a gap stops it). Walks the
# (device_id, seq) index from the old watermark to the first seq whose successor is missing:
# cost is what the watermark advances by, not every row the device has above it.
_WATERMARKS = """
WITH known AS (
    SELECT w.device_id, w.durable_seq AS base
    FROM device_watermarks w WHERE w.device_id IN (SELECT DISTINCT device_id FROM scan_in)
),
top AS (
    SELECT k.device_id, e.seq AS durable_seq
    FROM known k
    CROSS JOIN LATERAL (SELECT 1 FROM scans f WHERE f.device_id = k.device_id AND f.seq = k.base + 1 LIMIT 1) f
    CROSS JOIN LATERAL (
        SELECT s.seq FROM scans s
        WHERE s.device_id = k.device_id AND s.seq > k.base
          AND NOT EXISTS (SELECT 1 FROM scans n WHERE n.device_id = k.device_id AND n.seq = s.seq + 1)
        ORDER BY s.seq LIMIT 1
    ) e
),
moved AS (
    UPDATE device_watermarks w SET durable_seq = t.durable_seq, updated_at = now()
    FROM top t WHERE w.device_id = t.device_id AND t.durable_seq > w.durable_seq
    RETURNING w.device_id, w.durable_seq
)
SELECT k.device_id, coalesce(m.durable_seq, k.base) AS durable_seq FROM known k LEFT JOIN moved m USING (device_id)
"""

STAGES = ("copy", "scans", "sessions", "watermarks", "commit")


def _record(e: ScanEntry) -> tuple[object, ...]:
    return (
        e.scan_id, e.event_id, e.device_id, e.seq, e.gate_id, e.card_id, e.volunteer_id, e.at,
        e.device_at, e.received_at, e.verdict, e.reason, e.warnings, e.closes, e.source, e.stream_id,
    )


async def prepare(conn: asyncpg.Connection) -> None:
    await conn.execute(_STAGING)


async def write_batch(conn: asyncpg.Connection, entries: Sequence[ScanEntry],
                      timings: dict[str, float] | None = None) -> dict[str, int]:
    """Store the entries (idempotently); return the durable seq of every device in the batch.

    `timings`, when given, gets the seconds spent in each of STAGES added to it.
    """
    clock = time.perf_counter
    t = clock()
    marks: list[float] = []
    async with conn.transaction():
        await conn.execute("TRUNCATE scan_in")
        await conn.copy_records_to_table("scan_in", records=[_record(e) for e in entries], columns=_COLUMNS)
        marks.append(clock())
        await conn.execute(_INSERT_SCANS)
        marks.append(clock())
        await conn.execute(_SESSIONS)
        marks.append(clock())
        await conn.execute(_LOCK_DEVICES)
        rows = await conn.fetch(_WATERMARKS)
        marks.append(clock())
    marks.append(clock())
    if timings is not None:
        for stage, mark in zip(STAGES, marks, strict=True):
            timings[stage] = timings.get(stage, 0.0) + (mark - t)
            t = mark
    return {r["device_id"]: r["durable_seq"] for r in rows}


# --- when a write fails -------------------------------------------------------------------

class DataProblem(Exception):
    """Postgres refused the batch because of what is in it; retrying the same rows cannot help."""


class Stopped(Exception):
    """Asked to stop while Postgres was unavailable: the batch stays unacknowledged."""


# SQLSTATE classes that pass with time: connection, transaction rollback (deadlock,
# serialization), insufficient resources, operator intervention (shutdown, restart), system.
_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")


def classify(exc: BaseException) -> str:
    """'transient' (retry the same batch), 'data' (split it), or 'bug' (let it crash)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        if isinstance(exc, asyncpg.PostgresConnectionError) or state[:2] in _TRANSIENT_CLASSES:
            return "transient"
        return "data"
    if isinstance(exc, ValueError | TypeError | OverflowError):
        return "data"  # asyncpg could not encode a value (its DataError is a ValueError)
    if isinstance(exc, asyncpg.InterfaceError | OSError | ConnectionError | TimeoutError):
        return "transient"
    return "bug"


class Backoff:
    """Exponential delays with full jitter, so restarted consumers do not retry in step."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self.delay, self.cap = first, cap

    async def sleep(self, stopping: asyncio.Event | None) -> None:
        pause = random.uniform(self.delay / 2, self.delay)
        self.delay = min(self.delay * 2, self.cap)
        if stopping is None:
            await asyncio.sleep(pause)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), pause)
