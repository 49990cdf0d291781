"""Attention notes in Postgres: list, set and remove them (audited), and read an event's notes for loading it
into Redis (checkin/events/store.py puts each card's note fields into its roster record)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from checkin.errors import Invalid, NotFound
from checkin.events.notes import check_note, record_notes
from checkin.vocabulary import NoteScope


@dataclass(frozen=True)
class EventNotes:
    """One event's notes by scope, for resolving each roster record's note fields."""

    volunteers: dict[str, str] = field(default_factory=dict)
    shifts: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)

    def fields(self, volunteer_id: str, shift_ids: Sequence[str], team_id: str | None) -> dict[str, Any]:
        return record_notes(self.volunteers.get(volunteer_id), shift_ids, self.shifts,
                            self.teams.get(team_id) if team_id else None)


async def event_notes(conn: asyncpg.Connection | asyncpg.Pool, event_id: str) -> EventNotes:
    notes = EventNotes()
    by_scope = {NoteScope.VOLUNTEER: notes.volunteers, NoteScope.SHIFT: notes.shifts, NoteScope.TEAM: notes.teams}
    for r in await conn.fetch("SELECT scope, target_id, note FROM attention_notes WHERE event_id = $1", event_id):
        by_scope[NoteScope(r["scope"])][r["target_id"]] = r["note"]
    return notes


# What a note may hang on: a volunteer on the event's roster, one of its shifts, a team with members on it.
_TARGET_SQL = {
    NoteScope.VOLUNTEER: "SELECT v.name FROM volunteers v WHERE v.volunteer_id = $2 AND EXISTS"
                         " (SELECT 1 FROM assignments a WHERE a.event_id = $1 AND a.volunteer_id = v.volunteer_id)",
    NoteScope.SHIFT: "SELECT name FROM shifts WHERE event_id = $1 AND shift_id = $2",
    NoteScope.TEAM: "SELECT t.name FROM teams t WHERE t.team_id = $2 AND EXISTS (SELECT 1 FROM assignments a"
                    " JOIN volunteers v USING (volunteer_id) WHERE a.event_id = $1 AND v.team_id = t.team_id)",
}

_LIST_SQL = """
SELECT n.scope, n.target_id, n.note, n.updated_by, n.updated_at,
       coalesce(v.name, s.name, t.name, '') AS target_name
FROM attention_notes n
LEFT JOIN volunteers v ON n.scope = 'volunteer' AND v.volunteer_id = n.target_id
LEFT JOIN shifts s ON n.scope = 'shift' AND s.shift_id = n.target_id
LEFT JOIN teams t ON n.scope = 'team' AND t.team_id = n.target_id
WHERE n.event_id = $1
ORDER BY n.scope, n.target_id
"""


def parse_scope(value: object) -> NoteScope:
    try:
        return NoteScope(str(value))
    except ValueError:
        raise Invalid("scope is volunteer, shift or team", field="scope") from None


async def list_notes(pool: asyncpg.Pool, event_id: str) -> list[dict[str, Any]]:
    return [{"scope": r["scope"], "target_id": r["target_id"], "target_name": r["target_name"], "note": r["note"],
             "updated_by": r["updated_by"], "updated_at": r["updated_at"].isoformat()}
            for r in await pool.fetch(_LIST_SQL, event_id)]


async def set_note(pool: asyncpg.Pool, event_id: str, scope: NoteScope, target_id: str, text: object,
                   actor: str) -> dict[str, Any]:
    """Create or replace one note; Invalid for a note that may not be shown, NotFound for an unknown target."""
    note = check_note(text)
    async with pool.acquire() as conn, conn.transaction():
        name = await conn.fetchval(_TARGET_SQL[scope], event_id, target_id)
        if name is None:
            raise NotFound(f"this event has no {scope} {target_id!r}", field="target_id")
        await conn.execute(
            "INSERT INTO attention_notes (event_id, scope, target_id, note, updated_by) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (event_id, scope, target_id) DO UPDATE SET note = EXCLUDED.note,"
            " updated_by = EXCLUDED.updated_by, updated_at = now()",
            event_id, scope.value, target_id, note, actor)
        await _audit(conn, actor, "note_set", event_id, scope, target_id, note)
    return {"scope": scope.value, "target_id": target_id, "target_name": name, "note": note}


async def delete_note(pool: asyncpg.Pool, event_id: str, scope: NoteScope, target_id: str, actor: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.execute("DELETE FROM attention_notes WHERE event_id = $1 AND scope = $2 AND target_id = $3",
                                  event_id, scope.value, target_id)
        if done.endswith(" 0"):
            raise NotFound(f"no note on {scope} {target_id!r}", field="target_id")
        await _audit(conn, actor, "note_delete", event_id, scope, target_id, None)


async def _audit(conn: asyncpg.Connection, actor: str, action: str, event_id: str, scope: NoteScope, target_id: str,
                 note: str | None) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, event_id, subject, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
        actor, action, event_id, f"{scope.value}:{target_id}", orjson.dumps({"note": note}).decode())


async def note_targets(pool: asyncpg.Pool, event_id: str) -> dict[str, list[dict[str, str]]]:
    """The event's shifts and teams (with members on its roster), for the console's pickers."""
    shifts = await pool.fetch("SELECT shift_id AS id, name FROM shifts WHERE event_id = $1 ORDER BY starts_at, shift_id",
                              event_id)
    teams = await pool.fetch(
        "SELECT DISTINCT t.team_id AS id, t.name FROM assignments a JOIN volunteers v USING (volunteer_id)"
        " JOIN teams t ON t.team_id = v.team_id WHERE a.event_id = $1 ORDER BY t.team_id", event_id)
    return {"shifts": [dict(r) for r in shifts], "teams": [dict(r) for r in teams]}
