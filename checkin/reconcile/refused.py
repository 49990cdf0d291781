"""The refused-scan report over the scan log: cards refused at each gate in each hour (event time zone), by
reason (checkin/hours/refused_export.py CARD_REFUSALS), and the scans behind one count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from checkin.errors import Invalid, NotFound
from checkin.hours.refused_export import CARD_REFUSALS, RefusedCount

MAX_SCANS = 500  # the scans behind one count, for a person to read; a count past it says so
_REASONS = [r.value for r in CARD_REFUSALS]

_COUNTS_SQL = """
SELECT to_char(date_trunc('hour', s.scanned_at AT TIME ZONE e.tz), 'YYYY-MM-DD"T"HH24:MI') AS hour,
       s.gate_id, coalesce(g.name, s.gate_id) AS gate_name, s.reason, count(*) AS n
FROM scans s JOIN events e USING (event_id) LEFT JOIN gates g ON g.gate_id = s.gate_id
WHERE s.event_id = $1 AND s.verdict = 'rejected' AND s.reason = any($2::text[])
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 4
"""

_SCANS_SQL = """
SELECT s.scan_id::text, s.scanned_at, s.received_at, s.gate_id, s.device_id, s.card_id, s.reason, s.source
FROM scans s JOIN events e USING (event_id)
WHERE s.event_id = $1 AND s.verdict = 'rejected' AND s.reason = $2 AND s.gate_id = $3
  AND date_trunc('hour', s.scanned_at AT TIME ZONE e.tz) = $4
ORDER BY s.scanned_at, s.scan_id
LIMIT $5
"""


def parse_hour(text: str) -> datetime:
    """An hour of the report ("2024-02-24T18:00", event time zone) as a naive timestamp."""
    try:
        hour = datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise Invalid("hour is a report hour, like 2024-02-24T18:00", field="hour") from None
    if hour.minute:
        raise Invalid("hour starts on the hour, like 2024-02-24T18:00", field="hour")
    return hour


def check_reason(text: str) -> str:
    if text not in _REASONS:
        raise Invalid(f"reason is one of {', '.join(_REASONS)}", field="reason")
    return text


async def _tz(pool: asyncpg.Pool, event_id: str) -> str:
    tz = await pool.fetchval("SELECT tz FROM events WHERE event_id = $1", event_id)
    if tz is None:
        raise NotFound(f"no event {event_id!r}")
    return str(tz)


async def refused_counts(pool: asyncpg.Pool, event_id: str) -> tuple[str, list[RefusedCount]]:
    """(the event's time zone, the counts by hour, gate and reason)."""
    tz = await _tz(pool, event_id)
    rows = await pool.fetch(_COUNTS_SQL, event_id, _REASONS)
    return tz, [RefusedCount(r["hour"], r["gate_id"], r["gate_name"], r["reason"], int(r["n"])) for r in rows]


async def refused_scans(pool: asyncpg.Pool, event_id: str, gate_id: str, hour: datetime,
                        reason: str) -> list[dict[str, Any]]:
    await _tz(pool, event_id)
    rows = await pool.fetch(_SCANS_SQL, event_id, reason, gate_id, hour, MAX_SCANS + 1)
    return [{"scan_id": r["scan_id"], "scanned_at": r["scanned_at"].isoformat(),
             "received_at": r["received_at"].isoformat(), "gate_id": r["gate_id"], "device_id": r["device_id"],
             "card_id": r["card_id"], "reason": r["reason"], "source": r["source"]} for r in rows]
