"""Applying a checked event plan (checkin/event_plan.py) to Postgres: all or nothing, writing only what differs.

Importing the same plan twice changes nothing. A shift named under `assignments` ends up with exactly
the volunteers listed; shifts the plan does not list keep their assignments. Nothing is ever deleted
but assignments, so devices and scans that refer to a gate or a shift stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
import orjson
import redis.asyncio as aioredis

from checkin import events
from checkin.event_plan import Plan, Problem
from checkin.keys import Keys


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class PlanReport:
    event: str = "unchanged"  # inserted, updated or unchanged
    zones: Counts = field(default_factory=Counts)
    gates: Counts = field(default_factory=Counts)
    shifts: Counts = field(default_factory=Counts)
    assigned: int = 0
    unassigned: int = 0
    kept: int = 0  # assignments already as planned
    status: str = "draft"
    roster_size: int | None = None  # set when an open or closed event was reloaded into Redis

    @property
    def changed(self) -> bool:
        return (self.event != "unchanged" or self.assigned > 0 or self.unassigned > 0
                or any(c.inserted or c.updated for c in (self.zones, self.gates, self.shifts)))


class PlanRefused(Exception):
    """The plan clashes with the database (ids of another event, unknown volunteers); nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _count(counts: Counts, old: object | None, new: object) -> bool:
    """Tally one row; True when it must be written."""
    if old is None:
        counts.inserted += 1
    elif old != new:
        counts.updated += 1
    else:
        counts.unchanged += 1
        return False
    return True


async def _owned_elsewhere(conn: asyncpg.Connection, plan: Plan) -> list[Problem]:
    problems = []
    event_id = plan.event.event_id
    for table, column, specs, kind in (("gates", "gate_id", plan.gates, "gate"),
                                       ("shifts", "shift_id", plan.shifts, "shift")):
        owners = {r[0]: r[1] for r in await conn.fetch(
            f"SELECT {column}, event_id FROM {table} WHERE {column} = any($1::text[])",  # noqa: S608 - fixed names
            [getattr(s, column) for s in specs])}
        for spec in specs:
            owner = owners.get(getattr(spec, column))
            if owner is not None and owner != event_id:
                problems.append(Problem(f"{table}[{spec.index}].id",
                                        f"{kind} {getattr(spec, column)!r} belongs to event {owner!r}"))
    return problems


async def _resolve_volunteers(conn: asyncpg.Connection, plan: Plan) -> tuple[dict[str, str], list[Problem]]:
    """Volunteer id or record book number -> volunteer id; an id wins over a book number."""
    refs = sorted({ref for refs in plan.assignments.values() for ref in refs})
    by_book: dict[str, str] = {}
    found: dict[str, str] = {}
    for r in await conn.fetch("SELECT volunteer_id, record_book_no FROM volunteers"
                              " WHERE volunteer_id = any($1::text[]) OR record_book_no = any($1::text[])", refs):
        found[r["volunteer_id"]] = r["volunteer_id"]
        if r["record_book_no"] is not None:
            by_book[r["record_book_no"]] = r["volunteer_id"]
    resolved = {ref: found.get(ref) or by_book[ref] for ref in refs if ref in found or ref in by_book}
    problems = [Problem(f"assignments.{shift_id}[{i}]", f"no volunteer with id or record book number {ref!r}")
                for shift_id, shift_refs in plan.assignments.items()
                for i, ref in enumerate(shift_refs) if ref not in resolved]
    return resolved, problems


async def apply_plan(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, plan: Plan) -> PlanReport:
    """Write the plan in one transaction, or raise PlanRefused and write nothing."""
    ev = plan.event
    report = PlanReport()
    async with conn.transaction():
        # Two imports of one event at once would each see the other's rows as missing.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('event_plan:' || $1))", ev.event_id)
        problems = await _owned_elsewhere(conn, plan)
        resolved, unknown = await _resolve_volunteers(conn, plan)
        if problems or unknown:
            raise PlanRefused(problems + unknown)

        row = await conn.fetchrow("SELECT name, starts_on, ends_on, tz, policy, status FROM events"
                                  " WHERE event_id = $1", ev.event_id)
        new_event = (ev.name, ev.starts_on, ev.ends_on, ev.tz, ev.policy.__dict__)
        old_event = None if row is None else (row["name"], row["starts_on"], row["ends_on"], row["tz"],
                                              orjson.loads(row["policy"]))
        report.status = row["status"] if row else "draft"
        if old_event != new_event:
            report.event = "inserted" if row is None else "updated"
            await events.create_event(conn, ev.event_id, ev.name, ev.starts_on, ev.ends_on, ev.policy, ev.tz)

        zones = {r["zone_id"]: r["name"] for r in await conn.fetch(
            "SELECT zone_id, name FROM zones WHERE event_id = $1", ev.event_id)}
        for zone in plan.zones:
            if _count(report.zones, zones.get(zone.zone_id), zone.name):
                await events.add_zone(conn, ev.event_id, zone.zone_id, zone.name)

        gates = {r["gate_id"]: (r["zone_id"], r["name"], r["mode"]) for r in await conn.fetch(
            "SELECT gate_id, zone_id, name, mode FROM gates WHERE event_id = $1", ev.event_id)}
        for gate in plan.gates:
            if _count(report.gates, gates.get(gate.gate_id), (gate.zone_id, gate.name, gate.mode)):
                await events.add_gate(conn, ev.event_id, gate.gate_id, gate.zone_id, gate.name, gate.mode)

        shifts = {r["shift_id"]: tuple(r.values())[1:] for r in await conn.fetch(
            "SELECT shift_id, zone_id, name, starts_at, ends_at, required FROM shifts WHERE event_id = $1",
            ev.event_id)}
        for s in plan.shifts:
            if _count(report.shifts, shifts.get(s.shift_id), (s.zone_id, s.name, s.starts_at, s.ends_at, s.required)):
                await events.add_shift(conn, ev.event_id, s.shift_id, s.zone_id, s.name, s.starts_at, s.ends_at,
                                       s.required)

        for shift_id, refs in plan.assignments.items():
            wanted = {resolved[ref] for ref in refs}
            have = {r["volunteer_id"] for r in await conn.fetch(
                "SELECT volunteer_id FROM assignments WHERE event_id = $1 AND shift_id = $2", ev.event_id, shift_id)}
            report.kept += len(wanted & have)
            if wanted - have:
                report.assigned += len(wanted - have)
                await events.assign(conn, ev.event_id, shift_id, sorted(wanted - have))
            if have - wanted:
                report.unassigned += len(have - wanted)
                await conn.execute("DELETE FROM assignments WHERE event_id = $1 AND shift_id = $2"
                                   " AND volunteer_id = any($3::text[])", ev.event_id, shift_id, sorted(have - wanted))
    if report.changed and report.status != "draft":  # the gates see the new roster at once
        report.roster_size = await events.load_event(conn, redis, keys, ev.event_id)
    return report
