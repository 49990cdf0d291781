"""Personal links to a volunteer's digital card: made and revoked here, read by the gateway.

The token is random and stored only as its sha256. A link names one card, so revoking or reissuing
the card stops every link made for it; a new link can then be made for the new card.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote

import asyncpg

from checkin.tokens import token_hash

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}\Z")


@dataclass(frozen=True)
class LinkedCard:
    card_id: str
    card_text: str
    name: str
    team: str
    active: bool  # False once the card or the link was revoked


def new_link_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits, 32 URL-safe characters


def card_url(base_url: str, token: str) -> str:
    # In the fragment: the browser never sends it to a server or in a Referer header.
    return f"{base_url.rstrip('/')}/kiosk/card.html#t={quote(token, safe='')}"


async def create_link(conn: asyncpg.Connection, volunteer_id: str) -> tuple[str, str]:
    """A new link to the volunteer's active card; returns (token, card id). The token is shown once."""
    card_id = await conn.fetchval(
        "SELECT card_id FROM cards WHERE volunteer_id = $1 AND status = 'active'", volunteer_id)
    if card_id is None:
        raise LookupError(f"volunteer {volunteer_id!r} has no active card (checkin cards issue)")
    token = new_link_token()
    await conn.execute("INSERT INTO card_links (token_hash, card_id) VALUES ($1, $2)", token_hash(token), card_id)
    return token, str(card_id)


async def revoke_links(conn: asyncpg.Connection, volunteer_id: str) -> int:
    """Stop every link to the volunteer's cards (a link sent to the wrong phone); the card keeps working."""
    done = await conn.execute(
        "UPDATE card_links SET revoked_at = now() WHERE revoked_at IS NULL"
        " AND card_id IN (SELECT card_id FROM cards WHERE volunteer_id = $1)", volunteer_id)
    return int(done.split()[-1])


async def card_for_link(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> LinkedCard | None:
    """The card a link shows, or None for a token that was never issued."""
    row = await conn.fetchrow(
        "SELECT c.card_id, c.card_text, c.status, l.revoked_at, v.name, coalesce(t.name, '') AS team"
        " FROM card_links l JOIN cards c USING (card_id) JOIN volunteers v USING (volunteer_id)"
        " LEFT JOIN teams t USING (team_id) WHERE l.token_hash = $1", token_hash(token))
    if row is None:
        return None
    return LinkedCard(row["card_id"], row["card_text"], row["name"], row["team"],
                      row["status"] == "active" and row["revoked_at"] is None)
