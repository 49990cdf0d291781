"""What the office reads of one volunteer's log: every scan with its gate's name, the person who made a manual
or group scan, and the annulment that undid it (who, when, why); the corrections with their author's name.

The scan rows stay as they were written (the log is append-only): an annulment and an operator are facts beside
a scan, joined here so the office sees what happened rather than what counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

# A device that annulled its own scan is named by its label, else by the gate it stands at.
_SCANS = """
SELECT s.scan_id::text, s.scanned_at, s.verdict, s.reason, s.gate_id, g.name, g.zone_id, s.device_id, s.warnings,
       s.source, s.device_time, s.received_at,
       s.operator, op.name,
       a.actor, a.actor_kind, coalesce(au.name, nullif(ad.label, ''), adg.name), a.at, a.reason
FROM scans s
LEFT JOIN gates g ON g.gate_id = s.gate_id
LEFT JOIN users op ON op.user_id = s.operator
LEFT JOIN annulments a ON a.scan_id = s.scan_id
LEFT JOIN users au ON a.actor_kind = 'user' AND au.user_id = a.actor
LEFT JOIN devices ad ON a.actor_kind = 'device' AND ad.device_id = a.actor
LEFT JOIN gates adg ON adg.gate_id = ad.gate_id
WHERE s.event_id = $1 AND s.volunteer_id = $2
ORDER BY s.scanned_at, s.scan_id
"""
_CORRECTIONS = """
SELECT c.correction_id, c.action, c.session_key, c.start_at, c.end_at, c.service_day, c.reason, c.actor, u.name,
       c.at, c.before::text, c.after::text
FROM corrections c LEFT JOIN users u ON u.user_id = c.actor
WHERE c.event_id = $1 AND c.volunteer_id = $2
ORDER BY c.at, c.correction_id
"""


@dataclass(frozen=True)
class Person:
    """Who did something: a user (coordinator, team lead, admin) or a kiosk; name is None when unknown."""

    id: str
    kind: str  # 'user' or 'device'
    name: str | None


@dataclass(frozen=True)
class Annulment:
    by: Person
    at: datetime
    reason: str


@dataclass(frozen=True)
class TimelineScan:
    scan_id: str
    at: datetime
    verdict: str
    reason: str | None
    gate_id: str
    gate_name: str | None  # None only for a gate the event no longer has
    zone_id: str | None
    device_id: str
    warnings: tuple[str, ...]
    source: str  # device, manual or group
    device_time: datetime | None
    received_at: datetime
    operator: Person | None  # the person who scanned for the volunteer (manual or group)
    annulled: Annulment | None


@dataclass(frozen=True)
class TimelineCorrection:
    correction_id: str
    action: str
    session_key: str | None
    start: datetime | None
    end: datetime | None
    day: date
    reason: str
    actor: Person
    at: datetime
    before: str | None  # JSON text of the session before and after
    after: str | None


def _scan(r: asyncpg.Record) -> TimelineScan:
    operator = Person(r[12], "user", r[13]) if r[12] else None
    annulled = Annulment(Person(r[14], r[15], r[16]), r[17], r[18]) if r[14] is not None else None
    return TimelineScan(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(r[8] or ()), r[9], r[10], r[11],
                        operator, annulled)


async def scans(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, volunteer_id: str) -> list[TimelineScan]:
    """Every scan of the volunteer at the event in time order, annulled ones included and marked."""
    return [_scan(r) for r in await conn.fetch(_SCANS, event_id, volunteer_id)]


async def corrections(
    conn: asyncpg.Connection | asyncpg.Pool, event_id: str, volunteer_id: str,
) -> list[TimelineCorrection]:
    return [TimelineCorrection(r[0], r[1], r[2], r[3], r[4], r[5], r[6], Person(r[7], "user", r[8]), r[9], r[10],
                               r[11]) for r in await conn.fetch(_CORRECTIONS, event_id, volunteer_id)]

