"""A team's members on one event, for the team leads' page (kiosk/team/): who they are and whether each can be
checked in by the group check-in (an active card). Presence comes from Redis, at the gateway."""

from __future__ import annotations

from typing import Any

import asyncpg


async def team_members(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, team_id: str) -> dict[str, Any] | None:
    """The team and its members on the event's roster; None when the team has nobody on it (teams outlive
    events, so another event's team is "no team" here, as in operations.team_report)."""
    team = await conn.fetchrow(
        "SELECT t.name, coalesce(u.name, '') AS unit FROM teams t LEFT JOIN units u USING (unit_id)"
        " WHERE t.team_id = $1 AND EXISTS (SELECT 1 FROM assignments a JOIN volunteers v USING (volunteer_id)"
        " WHERE a.event_id = $2 AND v.team_id = t.team_id)", team_id, event_id)
    if team is None:
        return None
    rows = await conn.fetch(
        "SELECT v.volunteer_id, v.name, EXISTS (SELECT 1 FROM cards c WHERE c.volunteer_id = v.volunteer_id"
        " AND c.status = 'active') AS has_card"
        " FROM volunteers v WHERE v.team_id = $2"
        " AND EXISTS (SELECT 1 FROM assignments a WHERE a.event_id = $1 AND a.volunteer_id = v.volunteer_id)"
        " ORDER BY v.name, v.volunteer_id", event_id, team_id)
    return {"team_id": team_id, "team": team["name"], "unit": team["unit"],
            "members": [{"volunteer_id": r["volunteer_id"], "name": r["name"], "has_card": r["has_card"]} for r in rows]}
