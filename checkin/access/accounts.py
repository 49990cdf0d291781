"""Devices (gate kiosks) and people (admins, coordinators) and their tokens."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import orjson
import redis.asyncio as aioredis

from checkin.access.operations import add_team_lead
from checkin.keys import Keys
from checkin.tokens import make_device_token, new_id, new_secret, token_hash


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    role: str
    event_id: str | None

    def may_watch(self, event_id: str) -> bool:
        # A team lead's token belongs to the same table but opens only the team desk (gateway/operations.py).
        return self.role == "admin" or (self.role == "coordinator" and self.event_id == event_id)


async def enroll_device(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str, gate_id: str, label: str = ""
) -> tuple[str, str]:
    """Register a gate device; return (device_id, token). Only the token's hash is kept."""
    gate_event = await conn.fetchval("SELECT event_id FROM gates WHERE gate_id = $1", gate_id)
    if gate_event != event_id:
        raise LookupError(f"event {event_id!r} has no gate {gate_id!r}")
    device_id = new_id("D")
    token = make_device_token(event_id, device_id)
    await conn.execute(
        "INSERT INTO devices (device_id, event_id, gate_id, label, token_hash) VALUES ($1, $2, $3, $4, $5)",
        device_id, event_id, gate_id, label, token.hash,
    )
    await redis.hset(keys.event(event_id).devices, device_id,
                     orjson.dumps({"h": token.hash, "s": "active", "g": gate_id}))
    return device_id, token.text


async def revoke_device(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, device_id: str) -> None:
    row = await conn.fetchrow(
        "UPDATE devices SET status = 'revoked', revoked_at = now() WHERE device_id = $1"
        " RETURNING event_id, gate_id, token_hash", device_id)
    if row is None:
        raise LookupError(f"no device {device_id!r}")
    await redis.hset(keys.event(row["event_id"]).devices, device_id,
                     orjson.dumps({"h": row["token_hash"], "s": "revoked", "g": row["gate_id"]}))


async def move_device(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, device_id: str, gate_id: str,
                      actor: str, reason: str) -> str:
    """Re-assign a device to another gate of its event, audited; return the gate it left.

    A device token scans only at its device's gate, so moving one is the only way to change where it scans;
    the actor must be an admin, and the move is written to audit_log in the same transaction."""
    async with conn.transaction():
        role = await conn.fetchval("SELECT role FROM users WHERE user_id = $1 AND revoked_at IS NULL", actor)
        if role != "admin":
            raise ValueError(f"{actor!r} is not an admin: only an admin moves a device")
        row = await conn.fetchrow("SELECT event_id, gate_id, token_hash, status FROM devices WHERE device_id = $1"
                                  " FOR UPDATE", device_id)
        if row is None:
            raise LookupError(f"no device {device_id!r}")
        if row["status"] != "active":
            raise ValueError(f"device {device_id!r} is revoked; enroll a new one instead")
        if await conn.fetchval("SELECT event_id FROM gates WHERE gate_id = $1", gate_id) != row["event_id"]:
            raise LookupError(f"event {row['event_id']!r} has no gate {gate_id!r}")
        if row["gate_id"] == gate_id:
            raise ValueError(f"device {device_id!r} is already at gate {gate_id!r}")
        await conn.execute("UPDATE devices SET gate_id = $2 WHERE device_id = $1", device_id, gate_id)
        await conn.execute(
            "INSERT INTO audit_log (actor, action, event_id, subject, detail)"
            " VALUES ($1, 'device_move', $2, $3, $4::text::jsonb)", actor, row["event_id"], device_id,
            orjson.dumps({"from_gate": row["gate_id"], "to_gate": gate_id, "reason": reason}).decode())
    # After the commit: the record the scan script checks (a reload of the event writes the same).
    await redis.hset(keys.event(row["event_id"]).devices, device_id,
                     orjson.dumps({"h": row["token_hash"], "s": "active", "g": gate_id}))
    return str(row["gate_id"])


async def add_user(conn: asyncpg.Connection, name: str, role: str, event_id: str | None,
                   team_id: str | None = None) -> tuple[str, str]:
    """Create an admin, a coordinator or a team lead (隊長, of one team at one event); return (user_id, token)."""
    if role not in ("admin", "coordinator", "team_lead"):
        raise ValueError(f"role must be admin, coordinator or team_lead, got {role!r}")
    if role != "admin" and not event_id:
        raise ValueError(f"a {role.replace('_', ' ')} needs an event (--event)")
    if role == "team_lead":
        if not team_id:
            raise ValueError("a team lead needs a team (--team)")
        if await conn.fetchval("SELECT 1 FROM assignments a JOIN volunteers v USING (volunteer_id)"
                               " WHERE a.event_id = $1 AND v.team_id = $2 LIMIT 1", event_id, team_id) is None:
            raise LookupError(f"team {team_id!r} has nobody assigned to event {event_id!r}")
        return await add_team_lead(conn, name, str(event_id), team_id)
    if team_id:
        raise ValueError("only a team lead has a team")
    user_id = new_id("U")
    token = f"{user_id}.{new_secret()}"
    await conn.execute(
        "INSERT INTO users (user_id, name, role, event_id, token_hash) VALUES ($1, $2, $3, $4, $5)",
        user_id, name, role, event_id if role == "coordinator" else None, token_hash(token),
    )
    return user_id, token


async def revoke_user(conn: asyncpg.Connection, user_id: str) -> None:
    """Stop a user's token and console sessions at once: every request looks them up, nothing caches them."""
    async with conn.transaction():
        found = await conn.fetchval("UPDATE users SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1"
                                    " RETURNING 1", user_id)
        if found is None:
            raise LookupError(f"no user {user_id!r}")
        await conn.execute("UPDATE staff_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
                           user_id)
        await conn.execute("UPDATE password_links SET used_at = now() WHERE user_id = $1 AND used_at IS NULL", user_id)


async def user_for_token(conn: asyncpg.Connection | asyncpg.Pool, token: str | None) -> User | None:
    if not token or len(token) > 200:
        return None
    row = await conn.fetchrow(
        "SELECT user_id, name, role, event_id FROM users WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash(token))
    return User(row["user_id"], row["name"], row["role"], row["event_id"]) if row else None
