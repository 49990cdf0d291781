"""Post-event reconciliation over Postgres: stream the scan log, derive hours, correct, approve, export.

The derivation itself is checkin.hours.derive (pure); this module only reads and writes rows around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from tqdm import tqdm

from checkin.errors import Conflict, Forbidden, Invalid, NotFound
from checkin.hours.derive import derive_hours, event_hours_policy, service_day
from checkin.hours.exports import RECORD_HEADER, Member, record_rows, write_csv
from checkin.hours.model import (
    STALE_CORRECTION,
    Correction,
    HoursPolicy,
    LogScan,
    Session,
    Shift,
    VolunteerHours,
)
from checkin.hours.record_rules import RecordFacts

_SCANS = """
SELECT s.scan_id::text, s.volunteer_id, s.scanned_at, s.verdict, s.gate_id, g.zone_id, s.warnings,
       coalesce(c.status = 'revoked' AND (c.revoked_at IS NULL OR s.scanned_at >= c.revoked_at), false),
       -- annulled scans stay in: the gate's later labels were given with them, and pairing resyncs on them
       EXISTS (SELECT 1 FROM annulments a WHERE a.scan_id = s.scan_id)
FROM scans s
LEFT JOIN gates g ON g.gate_id = s.gate_id
LEFT JOIN cards c ON c.card_id = s.card_id
WHERE s.event_id = $1 AND s.volunteer_id IS NOT NULL {extra}
ORDER BY s.volunteer_id, s.scanned_at, s.scan_id
"""
_ASSIGNED = "SELECT volunteer_id, shift_id FROM assignments WHERE event_id = $1 {extra}"
_SHIFTS = "SELECT shift_id, zone_id, starts_at, ends_at FROM shifts WHERE shift_id = ANY($1::text[])"
_CORRECTIONS = """
SELECT volunteer_id, correction_id, action, session_key, start_at, end_at, reason, actor, at
FROM corrections WHERE event_id = $1 {extra}
"""


def parse_moment(text: str, policy: HoursPolicy) -> datetime:
    """An ISO 8601 time from the office; without an offset it is local time in the event's time zone."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(policy.timezone))


# Set-up and clean-up days around an event are service too; a date further out is a typing mistake
# (9999-12-31 once stored service_day=infinity and credited hours on a certificate).
OFFICE_MARGIN = timedelta(days=14)


class OutsideEvent(Invalid):
    """A correction, approval or acceptance dated outside the event's dates (with OFFICE_MARGIN)."""

    def __init__(self, field: str, day: date, first: date, last: date) -> None:
        super().__init__(f"{field}: {day.isoformat()} is not within the event's dates "
                         f"({first.isoformat()} to {last.isoformat()}, margin included)", field=field)


async def office_days(conn: asyncpg.Connection, event_id: str) -> tuple[date, date]:
    """The first and last day the office may date anything of the event; LookupError for an unknown event."""
    row = await conn.fetchrow("SELECT starts_on, ends_on FROM events WHERE event_id = $1", event_id)
    if row is None:
        raise NotFound(f"no event {event_id!r}", field="event_id")
    return row[0] - OFFICE_MARGIN, row[1] + OFFICE_MARGIN


def check_office_day(field: str, day: date, days: tuple[date, date]) -> None:
    """OutsideEvent unless day is within days. For a moment pass its date as written: the margin
    covers any UTC offset, and no time zone arithmetic runs on a moment not yet known to be sane."""
    if not days[0] <= day <= days[1]:
        raise OutsideEvent(field, day, *days)


class DayApproved(Conflict):
    """A correction falls on a team's service day that is already approved; only an admin may make it."""

    default_code = "day_approved"


def _scan(r: asyncpg.Record, zone: tzinfo | None) -> LogScan:
    at = r[2] if zone is None else r[2].astimezone(zone)
    return LogScan(r[0], r[1], at, r[3], r[4], r[5], tuple(r[6]) if r[6] else (), r[7], r[8])


async def load_event_log(
    conn: asyncpg.Connection, event_id: str, *, batch: int = 10_000, zone: tzinfo | None = None,
) -> AsyncIterator[LogScan]:
    """Every attributed scan of the event, ordered by volunteer and time, through a server-side cursor.

    zone: give the times in this zone (the event's). asyncpg returns UTC; the pure core buckets every
    time into service days in the event's zone and compares it with shift times, and datetimes that
    share one tzinfo do both without a zone lookup each time (about a third of the derivation).
    """
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        cursor = await conn.cursor(_SCANS.format(extra=""), event_id)
        pending = asyncio.ensure_future(cursor.fetch(batch))
        try:
            while rows := await pending:
                # Ask for the next batch before deriving this one: Postgres (another core) makes it meanwhile.
                pending = asyncio.ensure_future(cursor.fetch(batch))
                for r in rows:
                    yield _scan(r, zone)
        finally:
            if not pending.done():  # the caller stopped early: let the fetch finish before the transaction ends
                with contextlib.suppress(Exception):
                    await pending


async def by_volunteer(scans: AsyncIterable[LogScan]) -> AsyncIterator[tuple[str, list[LogScan]]]:
    """Group a volunteer-ordered stream into one list per volunteer (only one list in memory at a time)."""
    current: list[LogScan] = []
    async for s in scans:
        if current and s.volunteer_id != current[0].volunteer_id:
            yield current[0].volunteer_id, current
            current = []
        current.append(s)
    if current:
        yield current[0].volunteer_id, current


async def load_policy(conn: asyncpg.Connection, event_id: str) -> HoursPolicy:
    """The event's hours policy: events.policy -> 'hours', with the event's time zone and gate debounce."""
    row = await conn.fetchrow("SELECT policy::text, tz FROM events WHERE event_id = $1", event_id)
    if row is None:
        raise NotFound(f"no event {event_id!r}", field="event_id")
    return event_hours_policy(json.loads(row[0]), row[1])


async def load_shifts(
    conn: asyncpg.Connection, event_id: str, volunteer_id: str | None = None, zone: tzinfo | None = None,
) -> dict[str, list[Shift]]:
    """Each volunteer's shifts; one Shift object per shift, shared by everyone assigned to it."""
    extra, args = ("AND volunteer_id = $2", (volunteer_id,)) if volunteer_id else ("", ())
    assigned = await conn.fetch(_ASSIGNED.format(extra=extra), event_id, *args)
    ids = sorted({r[1] for r in assigned})
    shifts = {r[0]: Shift(r[0], r[1], _in(r[2], zone), _in(r[3], zone))
              for r in await conn.fetch(_SHIFTS, ids)}
    found: dict[str, list[Shift]] = {}
    for vid, shift_id in assigned:
        found.setdefault(vid, []).append(shifts[shift_id])
    return found


def _in(at: datetime, zone: tzinfo | None) -> datetime:
    return at if zone is None else at.astimezone(zone)


async def load_corrections(
    conn: asyncpg.Connection, event_id: str, volunteer_id: str | None = None, zone: tzinfo | None = None,
) -> dict[str, list[Correction]]:
    extra, args = ("AND volunteer_id = $2", (volunteer_id,)) if volunteer_id else ("", ())
    found: dict[str, list[Correction]] = {}
    for r in await conn.fetch(_CORRECTIONS.format(extra=extra), event_id, *args):
        start, end = (None if x is None else _in(x, zone) for x in (r[4], r[5]))
        found.setdefault(r[0], []).append(Correction(r[1], r[2], r[3], start, end, r[6], r[7], _in(r[8], zone)))
    return found


_gc_pauses = 0  # reconciliations running in this process with the cyclic collector paused


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a whole event is derived.

    A big event builds a million new tracked objects that all stay alive until the end, and each full
    collection re-scans every one of them: measured, about a third of the CPU of reconciling a million
    scans, and nothing to collect. Reference counting still frees everything at once; the collector
    resumes (and catches up) when the last reconciliation in the process ends.
    """
    global _gc_pauses
    if _gc_pauses == 0 and not gc.isenabled():  # someone else turned it off: leave it as it is
        yield
        return
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()


async def reconcile_event(conn: asyncpg.Connection, event_id: str, progress: bool | None = None,
                          now: datetime | None = None) -> list[VolunteerHours]:
    """Hours of every volunteer of the event, re-derived from the log, the shifts and the corrections.

    progress: True shows a tqdm bar, False none, None one only when stderr is a terminal.
    now: the moment of deriving (default: the clock); a volunteer whose service day is still open is on site.
    """
    now = now or datetime.now(UTC)
    policy = await load_policy(conn, event_id)
    zone = ZoneInfo(policy.timezone)  # ZoneInfo caches by name: the very object checkin.hours.derive uses
    shifts = await load_shifts(conn, event_id, zone=zone)
    corrections = await load_corrections(conn, event_id, zone=zone)
    total = None
    if progress is not False:
        total = await conn.fetchval(
            "SELECT count(*) FROM scans WHERE event_id = $1 AND volunteer_id IS NOT NULL", event_id
        )
    results: list[VolunteerHours] = []
    with _cyclic_gc_paused(), tqdm(total=total, unit="scan", unit_scale=True, disable=None if progress is None else not progress,
              desc=f"reconcile {event_id}") as bar:
        async for vid, scans in by_volunteer(load_event_log(conn, event_id, zone=zone)):
            results.append(derive_hours(scans, shifts.get(vid, ()), policy, corrections.pop(vid, ()), volunteer_id=vid,
                                        now=now))
            bar.update(len(scans))
            if len(results) % 256 == 0:  # let a gateway's other requests in every few tens of milliseconds
                await asyncio.sleep(0)
    for vid in sorted(corrections):  # volunteers known only through added sessions
        results.append(derive_hours((), shifts.get(vid, ()), policy, corrections[vid], volunteer_id=vid, now=now))
    return results


async def derive_volunteer(
    conn: asyncpg.Connection, event_id: str, volunteer_id: str, extra: Iterable[Correction] = (),
    now: datetime | None = None,
) -> VolunteerHours:
    """One volunteer's hours as of now (plus `extra` corrections not yet stored)."""
    policy = await load_policy(conn, event_id)
    zone = ZoneInfo(policy.timezone)
    rows = await conn.fetch(_SCANS.format(extra="AND s.volunteer_id = $2"), event_id, volunteer_id)
    shifts = (await load_shifts(conn, event_id, volunteer_id, zone)).get(volunteer_id, [])
    stored = (await load_corrections(conn, event_id, volunteer_id, zone)).get(volunteer_id, [])
    return derive_hours([_scan(r, zone) for r in rows], shifts, policy, [*stored, *extra], volunteer_id=volunteer_id,
                        now=now or datetime.now(UTC))


def session_json(session: Session | None) -> str | None:
    if session is None:
        return None
    return json.dumps({
        "key": session.key, "start": session.start.isoformat(),
        "end": session.end.isoformat() if session.end else None, "day": session.day.isoformat(),
        "raw_minutes": session.raw_minutes, "credited_minutes": session.credited_minutes,
        "flags": list(session.flags),
    }, ensure_ascii=False)


async def audit(conn: asyncpg.Connection, actor: str, action: str, event_id: str, subject: str,
                 detail: Mapping[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, event_id, subject, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
        actor, action, event_id, subject, json.dumps(detail, ensure_ascii=False, default=str),
    )


class NotAllowed(Forbidden):
    """The actor is not an admin, nor a coordinator of the event."""


async def is_admin(conn: asyncpg.Connection, actor: str) -> bool:
    role = await conn.fetchval("SELECT role FROM users WHERE user_id = $1 AND revoked_at IS NULL", actor)
    return bool(role == "admin")


async def actor_role(conn: asyncpg.Connection, actor: str, event_id: str) -> str:
    """The role of a user who may reconcile the event (an admin, or a coordinator of it); NotAllowed otherwise."""
    row = await conn.fetchrow("SELECT role, event_id FROM users WHERE user_id = $1 AND revoked_at IS NULL", actor)
    if row is None:
        raise NotAllowed(f"no active user {actor!r}")
    if row[0] != "admin" and (row[0] != "coordinator" or row[1] != event_id):
        raise NotAllowed(f"user {actor!r} is not an admin nor a coordinator of event {event_id!r}")
    return str(row[0])


async def add_correction(
    conn: asyncpg.Connection, event_id: str, volunteer_id: str, *, action: str, reason: str, actor: str,
    session_key: str | None = None, start: datetime | None = None, end: datetime | None = None,
    correction_id: str | None = None,
) -> Correction:
    """Store a correction with the session before and after it, and audit it.

    The actor must be an admin or a coordinator of the event (NotAllowed). Refused with DayApproved (and
    the refusal audited) when a day it touches is approved for the volunteer's team, unless the actor is
    an admin. ValueError for a correction that makes no sense; LookupError for an unknown volunteer.
    """
    refused: DayApproved | None = None
    role = await actor_role(conn, actor, event_id)
    days_allowed = await office_days(conn, event_id)
    for field, moment in (("start", start), ("end", end)):
        if moment is not None:
            check_office_day(field, moment.date(), days_allowed)
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT team_id FROM volunteers WHERE volunteer_id = $1 FOR UPDATE", volunteer_id
        )  # the row lock orders concurrent corrections of one volunteer, so 'before' is true
        if row is None:
            raise NotFound(f"no volunteer {volunteer_id!r}", field="volunteer_id")
        team = row[0]
        now = await conn.fetchval("SELECT now()")
        correction = Correction(correction_id or str(uuid.uuid4()), action, session_key, start, end, reason,
                                actor, now)
        policy = await load_policy(conn, event_id)
        before = await derive_volunteer(conn, event_id, volunteer_id)
        after = await derive_volunteer(conn, event_id, volunteer_id, [correction])
        if any(a.kind == STALE_CORRECTION and correction.correction_id in a.detail for a in after.anomalies):
            raise ValueError(f"correction does not apply to {volunteer_id}'s sessions: "
                             f"{next(a.detail for a in after.anomalies if a.kind == STALE_CORRECTION)}")
        whole = correction.key.partition("@")[0]  # a split session's later piece names the whole session
        old = next((s for s in before.sessions if s.key == whole), None)
        new = next((s for s in after.sessions if s.key == whole), None)
        # Every day the session touches, before or after, split at days' starts or not, must be open to correct.
        pieces = [s for r in (before, after) for s in r.sessions if s.key.partition("@")[0] == whole]
        days = sorted({s.day for s in pieces} or {service_day(now, policy)})
        primary = new or old
        approved = [] if team is None else await conn.fetch(
            "SELECT service_day FROM approvals WHERE event_id = $1 AND team_id = $2 AND service_day = ANY($3)",
            event_id, team, days,
        )
        detail: dict[str, Any] = {
            "correction_id": correction.correction_id, "action": action, "reason": reason,
            "days": [d.isoformat() for d in days], "approved_days": [r[0].isoformat() for r in approved],
            "before": json.loads(session_json(old) or "null"), "after": json.loads(session_json(new) or "null"),
        }
        if approved and role != "admin":
            await audit(conn, actor, "correction_refused", event_id, volunteer_id, detail)
            refused = DayApproved(f"{team}'s day {approved[0][0]} is approved; only an admin may correct it")
        else:
            await conn.execute(
                "INSERT INTO corrections (correction_id, event_id, volunteer_id, action, session_key, start_at,"
                " end_at, service_day, reason, actor, at, before, after)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13::text::jsonb)",
                correction.correction_id, event_id, volunteer_id, action, session_key, start, end,
                primary.day if primary else days[0], reason, actor, now,
                session_json(old), session_json(new),
            )
            await audit(conn, actor, "correction_" + action + ("_override" if approved else ""), event_id,
                         volunteer_id, detail)
    if refused is not None:
        raise refused
    return correction


async def approve(conn: asyncpg.Connection, event_id: str, team_id: str, day: date, actor: str) -> bool:
    """Sign off a team's service day; True if newly approved (approving twice is harmless).

    An admin, a coordinator of the event, or the team's own lead at the event may (NotAllowed otherwise);
    the approver is recorded.
    """
    lead = await conn.fetchval("SELECT team_id FROM users WHERE user_id = $1 AND role = 'team_lead'"
                               " AND event_id = $2 AND revoked_at IS NULL", actor, event_id)
    if lead is None or lead != team_id:
        await actor_role(conn, actor, event_id)
    check_office_day("day", day, await office_days(conn, event_id))
    if await conn.fetchval("SELECT 1 FROM teams WHERE team_id = $1", team_id) is None:
        raise NotFound(f"no team {team_id!r}", field="team_id")
    async with conn.transaction():
        done = await conn.fetchval(
            "INSERT INTO approvals (event_id, team_id, service_day, approved_by) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING true", event_id, team_id, day, actor,
        )
        await audit(conn, actor, "approve" if done else "approve_again", event_id, f"{team_id}/{day}",
                     {"team_id": team_id, "service_day": day.isoformat()})
    return bool(done)


# The record-book export moved to checkin.hours.exports; these names stay importable from here.
RecordBookEntry = Member


async def load_members(
    conn: asyncpg.Connection, event_id: str, volunteer_ids: Iterable[str] | None = None
) -> dict[str, Member]:
    """Roster facts of everyone the event concerns (assigned, scanned, or given an added session),
    or of the volunteers named."""
    event = await conn.fetchrow("SELECT name, policy->>'record_rules' FROM events WHERE event_id = $1", event_id)
    if event is None:
        raise NotFound(f"no event {event_id!r}", field="event_id")
    event_name, enforce = event[0], event[1] == "enforce"
    who = ("SELECT volunteer_id FROM assignments WHERE event_id = $1"
           " UNION SELECT volunteer_id FROM scans WHERE event_id = $1 AND volunteer_id IS NOT NULL"
           " UNION SELECT volunteer_id FROM corrections WHERE event_id = $1")
    args: tuple[Any, ...] = (event_id,)
    if volunteer_ids is not None:
        who, args = "SELECT unnest($2::text[])", (event_id, list(volunteer_ids))
    rows = await conn.fetch(
        "SELECT v.volunteer_id, v.name, v.record_book_no, coalesce(u.name, ''), t.name, v.team_id, v.company,"
        " v.category, v.birth_year, v.training_basic, v.training_special, v.insured_from, v.insured_to,"
        " $1::text FROM volunteers v"  # $1 named even when `who` does not use it
        " LEFT JOIN teams t ON t.team_id = v.team_id LEFT JOIN units u ON u.unit_id = t.unit_id"
        f" WHERE v.volunteer_id IN ({who})", *args,
    )
    accepted: dict[str, set[date]] = {}
    if enforce:
        for vid, day in await conn.fetch(
                "SELECT volunteer_id, day FROM acceptances WHERE event_id = $1"
                " AND ($2::text[] IS NULL OR volunteer_id = ANY($2))", event_id,
                None if volunteer_ids is None else list(args[1])):
            accepted.setdefault(vid, set()).add(day)
    return {r[0]: Member(r[1], r[2], r[3], f"{event_name} {r[4]}" if r[4] else str(event_name),
                         r[5], r[4] or "", r[6], r[7], r[8],
                         RecordFacts(r[9], r[10], r[11], r[12]) if enforce else None,
                         frozenset(accepted.get(r[0], ())), r[11], r[12]) for r in rows}


async def accept_record(
    conn: asyncpg.Connection, event_id: str, volunteer_id: str, day: date, actor: str, reason: str,
) -> None:
    """Let a volunteer's service day into the record book although untrained or uninsured (admin only, audited).

    NotAllowed (the refusal audited) for anyone but an admin; ValueError without a reason; LookupError for an
    unknown event or volunteer. Accepting twice adds a second row: acceptances are append-only.
    """
    if not reason.strip():
        raise ValueError("an acceptance needs a reason")
    detail = {"volunteer_id": volunteer_id, "day": day.isoformat(), "reason": reason}
    async with conn.transaction():
        if not await is_admin(conn, actor):
            await audit(conn, actor, "record_accept_refused", event_id, f"{volunteer_id}/{day}", detail)
            refused = NotAllowed(f"only an admin may accept record-book hours; {actor!r} is not one")
        else:
            refused = None
            check_office_day("day", day, await office_days(conn, event_id))  # LookupError for no event
            if await conn.fetchval("SELECT 1 FROM volunteers WHERE volunteer_id = $1", volunteer_id) is None:
                raise NotFound(f"no volunteer {volunteer_id!r}", field="volunteer_id")
            await conn.execute("INSERT INTO acceptances (event_id, volunteer_id, day, reason, actor)"
                               " VALUES ($1, $2, $3, $4, $5)", event_id, volunteer_id, day, reason, actor)
            await audit(conn, actor, "record_accept", event_id, f"{volunteer_id}/{day}", detail)
    if refused is not None:
        raise refused


load_record_entries = load_members


async def load_approvals(conn: asyncpg.Connection, event_id: str) -> set[tuple[str, date]]:
    """The (team, service day) pairs signed off for the event."""
    rows = await conn.fetch("SELECT team_id, service_day FROM approvals WHERE event_id = $1", event_id)
    return {(r[0], r[1]) for r in rows}


async def event_year(conn: asyncpg.Connection, event_id: str) -> int:
    """The year ages are counted in (高齡志工: 65 or over in the event's year)."""
    starts = await conn.fetchval("SELECT starts_on FROM events WHERE event_id = $1", event_id)
    if starts is None:
        raise NotFound(f"no event {event_id!r}", field="event_id")
    return int(starts.year)


def export_records_csv(results: Iterable[VolunteerHours], volunteers: Mapping[str, Member], path: Path | str) -> int:
    """One row per volunteer and service day with credited time, UTF-8 with BOM (Excel in Taiwan); rows written."""
    return write_csv(path, RECORD_HEADER, record_rows(results, volunteers))
