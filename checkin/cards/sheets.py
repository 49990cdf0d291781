"""An event's cards as a whole: issuing the missing ones, and the cards to print (all, or one team's).
Shared by `checkin cards issue|print` and the office console."""

from __future__ import annotations

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.cards.printing import PrintCard
from checkin.cards.store import IssuedCard, issue_cards


async def event_volunteers(conn: asyncpg.Connection, event_id: str | None) -> list[str]:
    """Everyone assigned to the event (or, without one, everyone on the roster)."""
    if event_id:
        rows = await conn.fetch("SELECT DISTINCT volunteer_id FROM assignments WHERE event_id = $1", event_id)
    else:
        rows = await conn.fetch("SELECT volunteer_id FROM volunteers")
    return [r["volunteer_id"] for r in rows]


async def issue_missing(conn: asyncpg.Connection, private_key: Ed25519PrivateKey,
                        event_id: str | None) -> tuple[list[IssuedCard], int]:
    """A first card for each volunteer of the event without an active one; (new cards, how many had one)."""
    ids = await event_volunteers(conn, event_id)
    issued = await issue_cards(conn, private_key, ids)
    return issued, len(ids) - len(issued)


async def print_cards(conn: asyncpg.Connection | asyncpg.Pool, event_id: str,
                      team_id: str | None = None) -> list[PrintCard]:
    """The active cards of the event's volunteers (of one team, when given), by team and name."""
    rows = await conn.fetch(
        "SELECT c.card_text, c.card_id, v.name, coalesce(t.name, '') AS team FROM cards c"
        " JOIN volunteers v USING (volunteer_id) LEFT JOIN teams t USING (team_id)"
        " WHERE c.status = 'active' AND v.volunteer_id IN (SELECT volunteer_id FROM assignments WHERE event_id = $1)"
        " AND ($2::text IS NULL OR v.team_id = $2) ORDER BY t.name, v.name", event_id, team_id)
    return [PrintCard(r["card_text"], r["card_id"], r["name"], r["team"]) for r in rows]
