"""One batch of stream entries into Postgres, in one transaction: scans, sessions, device watermarks."""

from __future__ import annotations

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

_INSERT_SCANS = f"""
INSERT INTO scans ({", ".join(_COLUMNS)})
SELECT DISTINCT ON (scan_id) {", ".join(_COLUMNS)} FROM scan_in ORDER BY scan_id
ON CONFLICT (scan_id) DO NOTHING
"""

# Keyed by the check-in's scan id: whichever of the pair lands first creates the row.
_CHECKINS = """
INSERT INTO sessions (checkin_scan_id, event_id, volunteer_id, gate_in, in_at)
SELECT DISTINCT ON (scan_id) scan_id, event_id, volunteer_id, gate_id, scanned_at
FROM scan_in WHERE verdict = 'checked_in' ORDER BY scan_id
ON CONFLICT (checkin_scan_id) DO UPDATE SET
    volunteer_id = EXCLUDED.volunteer_id, gate_in = EXCLUDED.gate_in, in_at = EXCLUDED.in_at
"""

_CHECKOUTS = """
INSERT INTO sessions (checkin_scan_id, event_id, volunteer_id, checkout_scan_id, gate_out, out_at)
SELECT DISTINCT ON (session_scan_id) session_scan_id, event_id, volunteer_id, scan_id, gate_id, scanned_at
FROM scan_in WHERE verdict = 'checked_out' AND session_scan_id IS NOT NULL ORDER BY session_scan_id
ON CONFLICT (checkin_scan_id) DO UPDATE SET
    checkout_scan_id = EXCLUDED.checkout_scan_id, gate_out = EXCLUDED.gate_out, out_at = EXCLUDED.out_at
"""

# The highest seq up to which every scan of the device is stored (gaps stop it).
_WATERMARKS = """
WITH batch AS (SELECT DISTINCT device_id, event_id FROM scan_in),
known AS (
    SELECT b.device_id, b.event_id, coalesce(w.durable_seq, 0) AS base
    FROM batch b LEFT JOIN device_watermarks w USING (device_id)
),
later AS (
    SELECT k.device_id, s.seq, k.base, dense_rank() OVER (PARTITION BY k.device_id ORDER BY s.seq) AS rn
    FROM known k JOIN scans s ON s.device_id = k.device_id AND s.seq > k.base
),
top AS (SELECT device_id, max(seq) AS durable_seq FROM later WHERE seq = base + rn GROUP BY device_id)
INSERT INTO device_watermarks AS w (device_id, durable_seq)
SELECT device_id, durable_seq FROM top
ON CONFLICT (device_id) DO UPDATE
    SET durable_seq = greatest(w.durable_seq, EXCLUDED.durable_seq), updated_at = now()
RETURNING device_id, durable_seq
"""


def _record(e: ScanEntry) -> tuple[object, ...]:
    return (
        e.scan_id, e.event_id, e.device_id, e.seq, e.gate_id, e.card_id, e.volunteer_id, e.at,
        e.device_at, e.received_at, e.verdict, e.reason, e.warnings, e.closes, e.source, e.stream_id,
    )


async def prepare(conn: asyncpg.Connection) -> None:
    await conn.execute(_STAGING)


async def write_batch(conn: asyncpg.Connection, entries: Sequence[ScanEntry]) -> dict[str, int]:
    """Store the entries (idempotently); return each touched device's new durable seq."""
    async with conn.transaction():
        await conn.execute("TRUNCATE scan_in")
        await conn.copy_records_to_table("scan_in", records=[_record(e) for e in entries], columns=_COLUMNS)
        await conn.execute(_INSERT_SCANS)
        await conn.execute(_CHECKINS)
        await conn.execute(_CHECKOUTS)
        rows = await conn.fetch(_WATERMARKS)
    return {r["device_id"]: r["durable_seq"] for r in rows}
