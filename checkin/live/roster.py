"""What a headcount is measured against: an event's zones, gates, shifts and who is assigned to each.

Loaded from Postgres when a live view of an event starts (and again every few minutes). Names are
full names: this goes only to coordinators, never to a gate.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import orjson

from checkin.events.store import service_offset
from checkin.hours.derive import event_hours_policy
from checkin.live.snapshot import Roster, Shift


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def load_roster(conn: asyncpg.Pool | asyncpg.Connection, event_id: str) -> Roster | None:
    event = await conn.fetchrow("SELECT name, tz, policy, starts_on FROM events WHERE event_id = $1", event_id)
    if event is None:
        return None
    policy = orjson.loads(event["policy"]) if event["policy"] else {}
    zones = {r["zone_id"]: r["name"] for r in await conn.fetch(
        "SELECT zone_id, name FROM zones WHERE event_id = $1 ORDER BY zone_id", event_id)}
    gates = {r["gate_id"]: (r["zone_id"], r["name"]) for r in await conn.fetch(
        "SELECT gate_id, zone_id, name FROM gates WHERE event_id = $1 ORDER BY zone_id, gate_id", event_id)}
    rows = await conn.fetch(
        "SELECT a.shift_id, v.volunteer_id, v.name, coalesce(t.name, '') AS team"
        " FROM assignments a JOIN volunteers v USING (volunteer_id) LEFT JOIN teams t ON t.team_id = v.team_id"
        " WHERE a.event_id = $1", event_id)
    people: dict[str, tuple[str, str]] = {}
    members: dict[str, set[str]] = {}
    teams: dict[str, dict[str, int]] = {}
    for r in rows:
        people[r["volunteer_id"]] = (r["name"], r["team"])
        members.setdefault(r["shift_id"], set()).add(r["volunteer_id"])
        per_team = teams.setdefault(r["shift_id"], {})
        per_team[r["team"]] = per_team.get(r["team"], 0) + 1
    shifts = [
        Shift(r["shift_id"], r["zone_id"], r["name"], _ms(r["starts_at"]), _ms(r["ends_at"]), r["required"],
              frozenset(members.get(r["shift_id"], ())), teams.get(r["shift_id"], {}))
        for r in await conn.fetch(
            "SELECT shift_id, zone_id, name, starts_at, ends_at, required FROM shifts WHERE event_id = $1"
            " ORDER BY starts_at, zone_id, shift_id", event_id)
    ]
    early_ms = int(policy.get("shift_early_min", 60)) * 60_000
    hours = event_hours_policy(policy, event["tz"])
    return Roster(event_id, event["name"], event["tz"], early_ms, zones, gates, shifts, hours, service_offset(event),
                  people)
