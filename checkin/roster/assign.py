"""Putting volunteers on an event's shifts in bulk: a whole team to one shift, or the pairs of a CSV,
each checked against the database first (every problem by line and column) and audited with who did it."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from checkin.access.audit import audit
from checkin.errors import NotFound
from checkin.roster.assign_csv import Pair
from checkin.roster.csv import Problem


async def _shift_of(conn: asyncpg.Connection, event_id: str, shift_id: str) -> None:
    if not await conn.fetchval("SELECT 1 FROM shifts WHERE shift_id = $1 AND event_id = $2", shift_id, event_id):
        raise NotFound(f"the event has no shift {shift_id!r}", code="unknown_shift", field="shift_id")


async def _insert(conn: asyncpg.Connection, event_id: str, pairs: Sequence[tuple[str, str]]) -> int:
    """Insert the (volunteer, shift) pairs not there yet; how many were new."""
    added = await conn.fetchval(
        "WITH new AS (INSERT INTO assignments (event_id, volunteer_id, shift_id)"
        " SELECT $1, v, s FROM unnest($2::text[], $3::text[]) AS p(v, s) ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT count(*) FROM new", event_id, [p[0] for p in pairs], [p[1] for p in pairs])
    return int(added)


async def assign_team(conn: asyncpg.Connection, event_id: str, team_id: str, shift_id: str,
                      actor: str) -> tuple[int, int]:
    """Every volunteer of the team onto the shift; (members, newly assigned)."""
    async with conn.transaction():
        await _shift_of(conn, event_id, shift_id)
        members = [r["volunteer_id"] for r in await conn.fetch(
            "SELECT volunteer_id FROM volunteers WHERE team_id = $1 ORDER BY volunteer_id", team_id)]
        if not members:
            raise NotFound(f"team {team_id!r} has no volunteers", code="unknown_team", field="team_id")
        added = await _insert(conn, event_id, [(vid, shift_id) for vid in members])
        await audit(conn, actor, "assign_team", event_id, team_id,
                    {"shift_id": shift_id, "members": len(members), "added": added})
    return len(members), added


async def check_pairs(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, pairs: Sequence[Pair]) -> list[Problem]:
    """What the database says of a parsed file: unknown volunteers, shifts not of this event."""
    known_v = {r[0] for r in await conn.fetch(
        "SELECT volunteer_id FROM volunteers WHERE volunteer_id = ANY($1::text[])", [p.volunteer_id for p in pairs])}
    known_s = {r[0] for r in await conn.fetch("SELECT shift_id FROM shifts WHERE event_id = $1", event_id)}
    problems = []
    for p in pairs:
        if p.volunteer_id not in known_v:
            problems.append(Problem(p.line, "志工編號", f"no volunteer {p.volunteer_id!r} on the roster",
                                    f"名冊上沒有志工 {p.volunteer_id!r}"))
        if p.shift_id not in known_s:
            problems.append(Problem(p.line, "班別編號", f"the event has no shift {p.shift_id!r}",
                                    f"活動沒有班別 {p.shift_id!r}"))
    return problems


async def assign_pairs(conn: asyncpg.Connection, event_id: str, pairs: Sequence[Pair], actor: str) -> int:
    """Write checked pairs (check_pairs found nothing); how many were new."""
    async with conn.transaction():
        added = await _insert(conn, event_id, [(p.volunteer_id, p.shift_id) for p in pairs])
        await audit(conn, actor, "assign_csv", event_id, None, {"lines": len(pairs), "added": added})
    return added
