"""The coordinator desk's help for a volunteer without a working card: why the card does not work, the
roster record a by-hand check-in is decided with, and the audit row that keeps its reason."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from checkin.events.note_store import event_notes
from checkin.events.store import roster_record

_CARDS = """
SELECT DISTINCT ON (volunteer_id) volunteer_id, status, revoke_reason, revoked_at
FROM cards WHERE volunteer_id = any($1::text[])
ORDER BY volunteer_id, (status = 'active') DESC, issued_at DESC
"""

# events._ROSTER_SQL for one volunteer, whatever their cards: the same record a card scan reads
_RECORD = """
SELECT v.volunteer_id, v.name, coalesce(t.name, '') AS team, v.team_id, v.birth_year, v.insured_from, v.insured_to,
       array_agg(s.shift_id ORDER BY s.starts_at) AS shift_ids, array_agg(s.zone_id ORDER BY s.starts_at) AS zones,
       array_agg(s.starts_at ORDER BY s.starts_at) AS starts, array_agg(s.ends_at ORDER BY s.starts_at) AS ends,
       e.tz, e.starts_on
FROM assignments a JOIN events e USING (event_id) JOIN volunteers v USING (volunteer_id)
JOIN shifts s ON s.shift_id = a.shift_id LEFT JOIN teams t ON t.team_id = v.team_id
WHERE a.event_id = $1 AND a.volunteer_id = $2
GROUP BY v.volunteer_id, t.name, e.tz, e.starts_on
"""


async def card_states(conn: asyncpg.Connection | asyncpg.Pool, volunteer_ids: list[str]) -> dict[str, dict[str, Any]]:
    """volunteer id -> the state of their newest card ("active" or "revoked", with the reason and when);
    a volunteer never issued a card is absent."""
    rows = await conn.fetch(_CARDS, volunteer_ids) if volunteer_ids else []
    return {r["volunteer_id"]: {"status": r["status"], "reason": r["revoke_reason"],
                                "revoked_at": r["revoked_at"].isoformat() if r["revoked_at"] else None}
            for r in rows}


async def desk_record(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, volunteer_id: str) -> str | None:
    """The roster record (JSON, as events.roster_record makes it) of a volunteer on the event's roster."""
    row = await conn.fetchrow(_RECORD, event_id, volunteer_id)
    if row is None:
        return None
    # with the event's attention notes, so a by-hand check-in answers with the note a card would get
    record = roster_record(row, ZoneInfo(row["tz"]), row["starts_on"].year - 65, await event_notes(conn, event_id))
    return orjson.dumps(record).decode()


async def audit_cardless_scan(conn: asyncpg.Connection | asyncpg.Pool, actor: str, event_id: str, volunteer_id: str,
                              detail: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, event_id, subject, detail)"
        " VALUES ($1, 'manual_scan_without_card', $2, $3, $4::text::jsonb)",
        actor, event_id, volunteer_id, orjson.dumps(detail).decode())
