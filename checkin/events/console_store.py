"""What the office console reads and writes of an event's setup: the list of events, the event's plan as a
document (the same JSON `checkin plan import` reads), edits applied through that plan, open and close.
Every change is written to audit_log with the person who made it, in the change's own transaction."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import redis.asyncio as aioredis

import checkin.events.store as events
from checkin.errors import NotFound
from checkin.events.plan import parse_plan
from checkin.events.plan_edit import effective_settings, policy_defaults, setting_choices
from checkin.events.plan_store import PlanRefused, PlanReport, apply_plan
from checkin.keys import Keys

_SETTINGS = set(policy_defaults())
_HOURS = set(policy_defaults()["hours"])


async def list_events(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT e.event_id, e.name, e.starts_on, e.ends_on, e.tz, e.status,"
        " (SELECT count(*) FROM gates g WHERE g.event_id = e.event_id) AS gates,"
        " (SELECT count(*) FROM shifts s WHERE s.event_id = e.event_id) AS shifts"
        " FROM events e ORDER BY e.starts_on DESC, e.event_id")
    return [{"id": r["event_id"], "name": r["name"], "starts_on": r["starts_on"].isoformat(),
             "ends_on": r["ends_on"].isoformat(), "tz": r["tz"], "status": r["status"],
             "gates": r["gates"], "shifts": r["shifts"]} for r in rows]


def _stored_settings(policy: dict[str, Any]) -> dict[str, Any]:
    """The stored policy as a plan's `event.policy`: the settings a plan may name, nothing else (the time zone
    is the event's `tz`)."""
    out = {k: v for k, v in policy.items() if k in _SETTINGS and k != "hours"}
    if isinstance(policy.get("hours"), dict):
        out["hours"] = {k: v for k, v in policy["hours"].items() if k in _HOURS}
    return out


async def event_row(conn: asyncpg.Connection | asyncpg.Pool, event_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT event_id, name, starts_on, ends_on, tz, status, policy FROM events"
                              " WHERE event_id = $1", event_id)
    if row is None:
        raise NotFound(f"no event {event_id!r}", field="event_id")
    return row


async def event_setup(conn: asyncpg.Connection | asyncpg.Pool, event_id: str) -> dict[str, Any]:
    """The event's fields, its settings in force and each setting's default."""
    row = await event_row(conn, event_id)
    stored = orjson.loads(row["policy"]) if row["policy"] else {}
    return {"id": row["event_id"], "name": row["name"], "starts_on": row["starts_on"].isoformat(),
            "ends_on": row["ends_on"].isoformat(), "tz": row["tz"], "status": row["status"],
            "policy": effective_settings(stored), "defaults": policy_defaults(), "choices": setting_choices()}


async def export_plan(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, *,
                      assignments: bool = True) -> dict[str, Any]:
    """The event as a plan document: importing it again changes nothing."""
    row = await event_row(conn, event_id)
    tz = ZoneInfo(row["tz"])
    doc: dict[str, Any] = {
        "event": {"id": row["event_id"], "name": row["name"], "starts_on": row["starts_on"].isoformat(),
                  "ends_on": row["ends_on"].isoformat(), "tz": row["tz"],
                  "policy": _stored_settings(orjson.loads(row["policy"]) if row["policy"] else {})},
        "zones": [{"id": r["zone_id"], "name": r["name"]} for r in await conn.fetch(
            "SELECT zone_id, name FROM zones WHERE event_id = $1 ORDER BY zone_id", event_id)],
        "gates": [{"id": r["gate_id"], "zone_id": r["zone_id"], "name": r["name"], "mode": r["mode"]}
                  for r in await conn.fetch("SELECT gate_id, zone_id, name, mode FROM gates WHERE event_id = $1"
                                            " ORDER BY zone_id, gate_id", event_id)],
        "shifts": [{"id": r["shift_id"], "zone_id": r["zone_id"], "name": r["name"],
                    "starts_at": r["starts_at"].astimezone(tz).isoformat(),
                    "ends_at": r["ends_at"].astimezone(tz).isoformat(), "required": r["required"]}
                   for r in await conn.fetch("SELECT shift_id, zone_id, name, starts_at, ends_at, required"
                                             " FROM shifts WHERE event_id = $1 ORDER BY starts_at, shift_id",
                                             event_id)],
    }
    if assignments:
        held: dict[str, list[str]] = {}
        for r in await conn.fetch("SELECT shift_id, volunteer_id FROM assignments WHERE event_id = $1"
                                  " ORDER BY shift_id, volunteer_id", event_id):
            held.setdefault(r["shift_id"], []).append(r["volunteer_id"])
        doc["assignments"] = held
    return doc


async def audit(conn: asyncpg.Connection, actor: str, action: str, event_id: str, subject: str | None,
                detail: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, event_id, subject, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
        actor, action, event_id, subject, orjson.dumps(detail).decode())


async def apply_document(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, data: bytes | str, *,
                         actor: str, action: str, subject: str | None = None) -> PlanReport:
    """Check and apply a plan exactly as `checkin plan import` does (parse_plan, then apply_plan), and audit it;
    PlanRefused with every problem, and nothing written, when there is any."""
    parsed = parse_plan(data)
    if parsed.plan is None:
        raise PlanRefused(parsed.problems)
    async with conn.transaction():
        report = await apply_plan(conn, redis, keys, parsed.plan)
        if report.changed:
            await audit(conn, actor, action, parsed.plan.event.event_id, subject,
                        {"event": report.event, "changes": report.changes, "assigned": report.assigned,
                         "unassigned": report.unassigned})
    return report


async def set_status(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str, status: str,
                     actor: str) -> int:
    """Open or close the event (and load it into Redis, as `checkin event open` does); audited."""
    async with conn.transaction():
        before = (await event_row(conn, event_id))["status"]
        size = await events.set_status(conn, redis, keys, event_id, status)
        await audit(conn, actor, f"event_{'open' if status == 'open' else 'close'}", event_id, None,
                    {"from": before, "to": status, "roster_size": size})
    return size
