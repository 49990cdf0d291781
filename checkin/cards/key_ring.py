"""The card signing keys an operator sees and retires (docs/cards.md, "Key rotation").

Retiring a key makes every card it signed fail with `unknown_key`: at the gateways within KEY_REFRESH_S (they
read the key set from Postgres), and at the kiosks with their next gate copy, which carries the keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from checkin.errors import Conflict, NotFound

KEY_REFRESH_S = 2  # every gateway process reads the key set this often: a retired key stops within it


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    created_at: datetime
    retired_at: datetime | None
    active_cards: int  # cards it signed that work today: the ones retiring it stops
    cards: int


_KEYS = """
SELECT k.key_id, k.created_at, k.retired_at,
       count(c.card_id) FILTER (WHERE c.status = 'active') AS active_cards, count(c.card_id) AS cards
FROM signing_keys k LEFT JOIN cards c USING (key_id)
WHERE $1::text IS NULL OR k.key_id = $1
GROUP BY k.key_id ORDER BY k.created_at, k.key_id
"""


async def signing_keys(conn: asyncpg.Connection, key_id: str | None = None) -> list[SigningKey]:
    return [SigningKey(**dict(r)) for r in await conn.fetch(_KEYS, key_id)]


async def retire_key(conn: asyncpg.Connection, key_id: str, *, signing_now: str | None) -> SigningKey:
    """Retire a key (at once: there is no undo, a leaked key must stop); `signing_now` is the id of the key new
    cards are signed with, which is refused: the next issue would sign cards nobody accepts."""
    if key_id == signing_now:
        raise Conflict(f"{key_id} is the key new cards are signed with; move the key file aside first (the next "
                       "issue makes a new key), reissue the cards, then retire this one", code="key_in_use",
                       field="key_id")
    retired_at = await conn.fetchval(
        "UPDATE signing_keys SET retired_at = coalesce(retired_at, now()) WHERE key_id = $1 RETURNING retired_at",
        key_id)
    if retired_at is None:
        raise NotFound(f"no signing key {key_id!r}", code="not_found", field="key_id")
    (key,) = await signing_keys(conn, key_id)
    return key
