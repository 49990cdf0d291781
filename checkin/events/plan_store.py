"""Applying a checked event plan (checkin/events/plan.py) to Postgres: all or nothing, writing only what differs.

Importing the same plan twice changes nothing, and an import changes only what the plan mentions: a policy
setting, an hours setting, a time zone, a gate's mode or a shift's headcount left out keeps its stored value
(set it in a plan, or with SQL, and a later plan that says nothing of it leaves it alone). The report lists
every field that changed. A shift named under `assignments` ends up with exactly the volunteers listed;
shifts the plan does not list keep their assignments. Nothing is ever deleted but assignments, so devices
and scans that refer to a gate or a shift stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

import checkin.events.store as events
from checkin.events.plan import KIND_ZH, EventSpec, Plan, Problem
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
    changes: list[str] = field(default_factory=list)  # "what: old -> new", one per changed field

    @property
    def changed(self) -> bool:
        return (self.event != "unchanged" or self.assigned > 0 or self.unassigned > 0
                or any(c.inserted or c.updated for c in (self.zones, self.gates, self.shifts)))


class PlanRefused(Exception):
    """The plan clashes with the database (ids of another event, unknown volunteers); nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


_GATE_COLUMNS = ("zone_id", "name", "mode")
_SHIFT_COLUMNS = ("zone_id", "name", "starts_at", "ends_at", "required")


def merged_policy(stored: dict[str, Any] | None, ev: EventSpec) -> dict[str, Any]:
    """events.policy after the import: the stored one (a new event's defaults) with the plan's settings on top,
    hours field by field."""
    policy = dict(stored) if stored is not None else dict(ev.policy.__dict__)
    for key, value in ev.settings.items():
        policy[key] = {**(policy.get(key) or {}), **value} if key == "hours" else value
    policy["tz"] = ev.tz
    return policy


def _flat(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Nested settings as dotted paths; a null is left out, as it means the same as a setting not made."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif value is not None:
            out[f"{prefix}{key}"] = value
    return out


def _differences(what: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    a, b = _flat(old, f"{what}."), _flat(new, f"{what}.")
    return [f"{k}: {_show(a.get(k))} -> {_show(b.get(k))}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _show(value: object) -> str:
    return "(unset)" if value is None else orjson.dumps(value, default=str).decode()


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
                                        f"{kind} {getattr(spec, column)!r} belongs to event {owner!r}",
                                        f"{KIND_ZH[kind]} {getattr(spec, column)!r} 屬於另一個活動 {owner!r}"))
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
    problems = [Problem(f"assignments.{shift_id}[{i}]", f"no volunteer with id or record book number {ref!r}",
                        f"沒有志工編號或紀錄冊號碼為 {ref!r} 的志工")
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
        report.status = row["status"] if row else "draft"
        tz = ev.tz if ev.tz_given or row is None else row["tz"]
        ev = replace(ev, tz=tz)
        old_policy = orjson.loads(row["policy"]) if row is not None else None
        new_event = {"name": ev.name, "starts_on": ev.starts_on, "ends_on": ev.ends_on, "tz": tz,
                     "policy": merged_policy(old_policy, ev)}
        old_event = None if row is None else {"name": row["name"], "starts_on": row["starts_on"],
                                              "ends_on": row["ends_on"], "tz": row["tz"], "policy": old_policy}
        changes = [] if old_event is None else _differences("event", old_event, new_event)
        if old_event is None or changes:
            report.event = "inserted" if row is None else "updated"
            report.changes += changes
            await conn.execute(
                "INSERT INTO events (event_id, name, starts_on, ends_on, tz, policy) VALUES ($1, $2, $3, $4, $5,"
                " $6::text::jsonb) ON CONFLICT (event_id) DO UPDATE SET name = EXCLUDED.name,"
                " starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on, tz = EXCLUDED.tz,"
                " policy = EXCLUDED.policy",
                ev.event_id, ev.name, ev.starts_on, ev.ends_on, tz, orjson.dumps(new_event["policy"]).decode())

        zones = {r["zone_id"]: r["name"] for r in await conn.fetch(
            "SELECT zone_id, name FROM zones WHERE event_id = $1", ev.event_id)}
        for zone in plan.zones:
            if _count(report.zones, zones.get(zone.zone_id), zone.name):
                if zone.zone_id in zones:
                    report.changes.append(f"zones[{zone.zone_id}].name: {_show(zones[zone.zone_id])} -> {_show(zone.name)}")
                await events.add_zone(conn, ev.event_id, zone.zone_id, zone.name)

        gates = {r["gate_id"]: (r["zone_id"], r["name"], r["mode"]) for r in await conn.fetch(
            "SELECT gate_id, zone_id, name, mode FROM gates WHERE event_id = $1", ev.event_id)}
        for gate in plan.gates:
            old = gates.get(gate.gate_id)
            mode = gate.mode if gate.mode_given or old is None else old[2]
            if _count(report.gates, old, (gate.zone_id, gate.name, mode)):
                if old is not None:
                    report.changes += _differences(f"gates[{gate.gate_id}]", dict(zip(_GATE_COLUMNS, old, strict=True)),
                                                   {"zone_id": gate.zone_id, "name": gate.name, "mode": mode})
                await events.add_gate(conn, ev.event_id, gate.gate_id, gate.zone_id, gate.name, mode)

        shifts = {r["shift_id"]: tuple(r.values())[1:] for r in await conn.fetch(
            "SELECT shift_id, zone_id, name, starts_at, ends_at, required FROM shifts WHERE event_id = $1",
            ev.event_id)}
        for s in plan.shifts:
            stored = shifts.get(s.shift_id)
            required = s.required if s.required_given or stored is None else stored[4]
            if _count(report.shifts, stored, (s.zone_id, s.name, s.starts_at, s.ends_at, required)):
                if stored is not None:
                    report.changes += _differences(
                        f"shifts[{s.shift_id}]", dict(zip(_SHIFT_COLUMNS, stored, strict=True)),
                        dict(zip(_SHIFT_COLUMNS, (s.zone_id, s.name, s.starts_at, s.ends_at, required), strict=True)))
                await events.add_shift(conn, ev.event_id, s.shift_id, s.zone_id, s.name, s.starts_at, s.ends_at,
                                       required)

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
