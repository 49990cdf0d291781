"""Card lifecycle in Postgres (issue, revoke, reissue, list), mirrored to Redis for the gates."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checkin.cards.format import key_id_for, new_card_id, public_key_bytes, public_key_from_bytes, sign_card
from checkin.errors import Conflict
from checkin.events.gate_copy import note_card_changes
from checkin.keys import Keys


@dataclass(frozen=True)
class IssuedCard:
    card_id: str
    volunteer_id: str
    text: str


async def register_key(conn: asyncpg.Connection, private_key: Ed25519PrivateKey) -> str:
    """The key's id, registered if new; refused when the key was retired, since every card it signed from now
    on would be refused at the gates (the key file must be moved aside so the next issue makes a new key)."""
    public = private_key.public_key()
    key_id = key_id_for(public)
    retired = await conn.fetchval(
        "WITH added AS (INSERT INTO signing_keys (key_id, public_key) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        " RETURNING key_id) SELECT retired_at IS NOT NULL FROM signing_keys WHERE key_id = $1"
        " AND NOT EXISTS (SELECT 1 FROM added)", key_id, public_key_bytes(public))
    if retired:
        raise Conflict(f"the signing key {key_id} is retired: cards it signs would be refused; move the key file"
                       " aside (CHECKIN_SIGNING_KEY, or <data_dir>/keys/signing.key) and a new key is made",
                       code="key_retired", zh=f"簽章金鑰 {key_id} 已停用，請移開金鑰檔以產生新金鑰")
    return key_id


async def valid_public_keys(conn: asyncpg.Connection) -> dict[str, Ed25519PublicKey]:
    rows = await conn.fetch("SELECT key_id, public_key FROM signing_keys WHERE retired_at IS NULL")
    return {r["key_id"]: public_key_from_bytes(r["public_key"]) for r in rows}


async def active_card_texts(conn: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    """Every card that works today, for a gateway to trust without verifying each signature again."""
    rows = await conn.fetch("SELECT card_text FROM cards WHERE status = 'active' ORDER BY issued_at DESC")
    return [r["card_text"] for r in rows]


async def issue_cards(
    conn: asyncpg.Connection, private_key: Ed25519PrivateKey, volunteer_ids: list[str]
) -> list[IssuedCard]:
    """A first card for each volunteer who has no active card; returns the new cards."""
    key_id = await register_key(conn, private_key)
    have = {r["volunteer_id"] for r in await conn.fetch(
        "SELECT volunteer_id FROM cards WHERE status = 'active' AND volunteer_id = any($1::text[])",
        volunteer_ids)}
    issued = []
    for vid in volunteer_ids:
        if vid in have:
            continue
        card_id = new_card_id()
        issued.append(IssuedCard(card_id, vid, sign_card(private_key, card_id)))
    await conn.copy_records_to_table(
        "cards", records=[(c.card_id, c.volunteer_id, key_id, c.text) for c in issued],
        columns=["card_id", "volunteer_id", "key_id", "card_text"],
    )
    return issued


async def _mirror_revocation(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, volunteer_id: str, card_id: str
) -> None:
    events = [r["event_id"] for r in await conn.fetch(
        "SELECT DISTINCT event_id FROM assignments WHERE volunteer_id = $1", volunteer_id)]
    async with redis.pipeline(transaction=False) as pipe:
        for event_id in events:
            ev = keys.event(event_id)
            pipe.sadd(ev.revoked, card_id)
            pipe.hdel(ev.roster, card_id)
            note_card_changes(pipe, ev, [card_id])
        await pipe.execute()


async def revoke_card(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, card_id: str, reason: str
) -> str:
    """Revoke a card at once, at every gate; return its volunteer id."""
    vid = await conn.fetchval(
        "UPDATE cards SET status = 'revoked', revoked_at = now(), revoke_reason = $2"
        " WHERE card_id = $1 AND status = 'active' RETURNING volunteer_id", card_id, reason)
    if vid is None:
        raise LookupError(f"no active card {card_id!r}")
    await _mirror_revocation(conn, redis, keys, vid, card_id)
    return str(vid)


async def reissue_card(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, private_key: Ed25519PrivateKey,
    volunteer_id: str, reason: str = "reissued",
) -> IssuedCard:
    """A new card for a volunteer; the old one stops working at once."""
    async with conn.transaction():
        old = await conn.fetchval(
            "UPDATE cards SET status = 'revoked', revoked_at = now(), revoke_reason = $2"
            " WHERE volunteer_id = $1 AND status = 'active' RETURNING card_id", volunteer_id, reason)
        (card,) = await issue_cards(conn, private_key, [volunteer_id])
        if old is not None:
            await conn.execute("UPDATE cards SET replaced_by = $2 WHERE card_id = $1", old, card.card_id)
    if old is not None:
        await _mirror_revocation(conn, redis, keys, volunteer_id, old)
    return card
