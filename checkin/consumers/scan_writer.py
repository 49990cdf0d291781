"""One batch of stream entries into Postgres, in one transaction: scans, sessions, device watermarks."""

from __future__ import annotations

import asyncio
import contextlib
import io
import operator
import random
import time
from collections.abc import Sequence

import asyncpg

from checkin.streams import ScanEntry, encode_entry
from checkin.vocabulary import SCAN_FIELDS, Verdict

# The stream fields a staging row is made of, in COPY order; event and stream id come last.
_FIELDS = (b"scan_id", b"dev", b"seq", b"gate", b"card", b"vol", b"at", b"dat", b"rx", b"verdict", b"reason",
           b"warn", b"closes", b"src", b"op")
_REQUIRED = frozenset((b"scan_id", b"dev", b"seq", b"gate", b"at", b"rx", b"verdict"))
_VERDICTS = frozenset(v.value.encode() for v in Verdict)
_STAGING_COLUMNS = [f.decode() for f in _FIELDS] + ["event_id", "stream_id"]

# Raw fields as text; types are checked by the COPY (uuid, bigint) and the casts below, so a
# malformed value fails the batch in Postgres and the recorder isolates it by splitting.
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS scan_in (
    scan_id uuid, dev text, seq bigint, gate text, card text, vol text, at bigint, dat text, rx bigint,
    verdict text, reason text, warn text, closes text, src text, op text, event_id text, stream_id text
)
"""

_MS = "('epoch'::timestamptz + {} * interval '1 millisecond')"

# ORDER BY scan_id: two consumers inserting overlapping batches take index locks in one order.
# Sessions come only from the scans this statement inserted: a scan already stored had its
# session half written in that same earlier transaction.
# Keyed by the check-in's scan id, both halves in one statement: whichever of the pair lands
# first creates the row, the other fills in its columns; a half already there is never blanked.
_INSERT = f"""
WITH ins AS (
    INSERT INTO scans (scan_id, event_id, device_id, seq, gate_id, card_id, volunteer_id, scanned_at,
                       device_time, received_at, verdict, reason, warnings, session_scan_id, source, stream_id,
                       operator)
    SELECT DISTINCT ON (scan_id) scan_id, event_id, dev, seq, gate, nullif(card, ''), nullif(vol, ''),
           {_MS.format("at")},
           CASE WHEN dat IN ('', at::text) THEN NULL ELSE {_MS.format("dat::bigint")} END,
           {_MS.format("rx")}, verdict, nullif(reason, ''),
           CASE WHEN warn = '' THEN '{{}}'::text[] ELSE string_to_array(warn, ',') END,
           nullif(closes, '')::uuid, coalesce(nullif(src, ''), 'device'), stream_id, nullif(op, '')
    FROM scan_in ORDER BY scan_id
    ON CONFLICT (scan_id) DO NOTHING
    RETURNING scan_id, event_id, volunteer_id, gate_id, scanned_at, verdict, session_scan_id
)
INSERT INTO sessions AS s (checkin_scan_id, event_id, volunteer_id, gate_in, in_at, checkout_scan_id, gate_out, out_at)
SELECT key, min(event_id), min(volunteer_id),
       min(gate_id) FILTER (WHERE verdict = 'checked_in'), min(scanned_at) FILTER (WHERE verdict = 'checked_in'),
       (array_agg(scan_id ORDER BY scanned_at, scan_id) FILTER (WHERE verdict = 'checked_out'))[1],
       (array_agg(gate_id ORDER BY scanned_at, scan_id) FILTER (WHERE verdict = 'checked_out'))[1],
       min(scanned_at) FILTER (WHERE verdict = 'checked_out')
FROM (SELECT CASE WHEN verdict = 'checked_in' THEN scan_id ELSE session_scan_id END AS key, *
      FROM ins
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
WITH batch AS (SELECT DISTINCT dev AS device_id FROM scan_in),
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
    FROM device_watermarks w WHERE w.device_id IN (SELECT DISTINCT dev FROM scan_in)
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

STAGES = ("copy", "insert", "watermarks", "commit")

_ESCAPES = {ord("\\"): b"\\\\", ord("\t"): b"\\t", ord("\n"): b"\\n", ord("\r"): b"\\r"}


def _escape(value: bytes) -> bytes:
    return b"".join(_ESCAPES.get(c, bytes((c,))) for c in value)


def copy_line(event_id: bytes, stream_id: bytes, fields: dict[bytes, bytes]) -> bytes | None:
    """One scan as a line of COPY text, straight from the stream fields; None when the entry lacks
    what every scan has (the caller parses it properly to say what is wrong)."""
    if not _REQUIRED <= fields.keys() or fields[b"verdict"] not in _VERDICTS:
        return None
    get = fields.get
    values = [get(f) or b"" for f in _FIELDS]
    values += [event_id, stream_id]
    line = b"\t".join(values)
    if line.count(b"\t") != len(values) - 1 or b"\\" in line or b"\n" in line or b"\r" in line:
        line = b"\t".join(_escape(v) for v in values)
    return line + b"\n"


# The order the scan script XADDs its fields in (checkin/scan/lua/scan.lua); entries in exactly this
# shape take the fast path below, anything else goes through the dict path above.
_SCRIPT_ORDER = [f.encode() for f in SCAN_FIELDS]
_PICK = operator.itemgetter(*(_SCRIPT_ORDER.index(f) for f in _FIELDS))
_VERDICT_AT = _SCRIPT_ORDER.index(b"verdict")


def copy_line_flat(event_id: bytes, stream_id: bytes, flat: list[bytes]) -> bytes | None:
    """copy_line for an entry as the server sends it (field, value, field, value ...)."""
    if flat[0::2] != _SCRIPT_ORDER:
        return copy_line(event_id, stream_id, dict(zip(flat[0::2], flat[1::2], strict=False)))
    values = flat[1::2]
    if values[_VERDICT_AT] not in _VERDICTS:
        return None
    line = b"\t".join((*_PICK(values), event_id, stream_id))
    if line.count(b"\t") != len(_FIELDS) + 1 or b"\\" in line or b"\n" in line or b"\r" in line:
        line = b"\t".join(_escape(v) for v in (*_PICK(values), event_id, stream_id))
    return line + b"\n"


def entry_lines(entries: Sequence[ScanEntry]) -> list[bytes]:
    """COPY lines for scans built in Python (tools and tests)."""
    lines = [copy_line(e.event_id.encode(), (e.stream_id or "0-0").encode(), encode_entry(e)) for e in entries]
    assert all(lines), "a ScanEntry always has every required field"
    return lines  # type: ignore[return-value]


async def prepare(conn: asyncpg.Connection) -> None:
    await conn.execute(_STAGING)


async def write_batch(conn: asyncpg.Connection, lines: Sequence[bytes],
                      timings: dict[str, float] | None = None) -> dict[str, int]:
    """Store the scans (idempotently); return the durable seq of every device in the batch.

    `timings`, when given, gets the seconds spent in each of STAGES added to it.
    """
    clock = time.perf_counter
    t = clock()
    marks: list[float] = []
    async with conn.transaction():
        await conn.execute("TRUNCATE scan_in")
        await conn.copy_to_table("scan_in", source=io.BytesIO(b"".join(lines)), columns=_STAGING_COLUMNS)
        marks.append(clock())
        await conn.execute(_INSERT)
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
    # InternalClientError: the connection broke mid-COPY and the rollback found it in the wrong state
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError | ConnectionError
                  | TimeoutError):
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
