"""One-time enrollment codes: an operator makes one for a gate, a kiosk exchanges it once for a device token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import redis.asyncio as aioredis

from checkin.access.accounts import enroll_device
from checkin.errors import DomainError
from checkin.keys import Keys
from checkin.tokens import token_hash

DEFAULT_TTL = timedelta(hours=24)
MAX_CODE_LENGTH = 64


_KINDS = {"unknown_code": "not_found", "used_code": "conflict", "expired_code": "gone", "event_closed": "conflict"}


class EnrollmentRefused(DomainError):
    """The code cannot be exchanged: unknown_code, expired_code, used_code or event_closed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, field="code")
        self.kind = _KINDS.get(code, "invalid")  # the kind follows the code here


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    event_id: str
    event_name: str
    gate_id: str
    gate_name: str
    status: str


async def create_code(
    conn: asyncpg.Connection, event_id: str, gate_id: str, label: str = "", ttl: timedelta = DEFAULT_TTL,
    pin_hash: str | None = None,
) -> str:
    """A new code for a gate of an event; only its hash is stored, so it is shown once. `pin_hash`: the
    hashed PIN the office chose for the kiosk, given to the device that redeems the code."""
    gate_event = await conn.fetchval("SELECT event_id FROM gates WHERE gate_id = $1", gate_id)
    if gate_event != event_id:
        raise LookupError(f"event {event_id!r} has no gate {gate_id!r}")
    if ttl <= timedelta(0):
        raise ValueError("an enrollment code must live a positive time")
    code = secrets.token_urlsafe(16)  # 128 random bits: not guessable, short enough for a QR
    await conn.execute(
        "INSERT INTO enrollment_codes (code_hash, event_id, gate_id, label, expires_at, pin_hash)"
        " VALUES ($1, $2, $3, $4, now() + $5::interval, $6)",
        token_hash(code), event_id, gate_id, label, ttl, pin_hash,
    )
    return code


async def code_is_open(conn: asyncpg.Connection, code: str) -> bool:
    """Whether a code was issued here and not used yet (redeem_code still decides, under its lock)."""
    return bool(await conn.fetchval("SELECT 1 FROM enrollment_codes WHERE code_hash = $1 AND used_at IS NULL",
                                    token_hash(code)))


async def office_pin_hash(conn: asyncpg.Connection, code: str) -> str | None:
    """The PIN the office set on an open code (hashed), if it set one."""
    value = await conn.fetchval("SELECT pin_hash FROM enrollment_codes WHERE code_hash = $1 AND used_at IS NULL",
                                token_hash(code))
    return str(value) if value is not None else None


async def redeem_code(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, code: str, pin_hash: str | None = None
) -> tuple[str, DeviceInfo]:
    """Exchange a code for a new device token (returned once) and what the kiosk needs to know.
    `pin_hash`: the hashed PIN that guards the kiosk's settings, kept with the device; without one, the PIN
    the office set on the code (if any)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT c.event_id, c.gate_id, c.label, c.used_at, c.expires_at <= now() AS expired, e.status,"
            " c.pin_hash"
            " FROM enrollment_codes c JOIN events e USING (event_id) WHERE c.code_hash = $1 FOR UPDATE OF c",
            token_hash(code))
        if row is None:
            raise EnrollmentRefused("unknown_code", "no such enrollment code; ask for a new link")
        if row["used_at"] is not None:
            raise EnrollmentRefused("used_code", "this enrollment code was already used; ask for a new link")
        if row["expired"]:
            raise EnrollmentRefused("expired_code", "this enrollment code has expired; ask for a new link")
        if row["status"] == "closed":
            raise EnrollmentRefused("event_closed", "the event is closed")
        device_id, token = await enroll_device(conn, redis, keys, row["event_id"], row["gate_id"], row["label"])
        await conn.execute("UPDATE enrollment_codes SET used_at = now(), device_id = $2 WHERE code_hash = $1",
                           token_hash(code), device_id)
        pin_hash = pin_hash or row["pin_hash"]
        if pin_hash is not None:
            await conn.execute("UPDATE devices SET pin_hash = $2 WHERE device_id = $1", device_id, pin_hash)
    info = await device_info(conn, device_id)
    assert info is not None
    return token, info


async def device_info(conn: asyncpg.Connection | asyncpg.Pool, device_id: str) -> DeviceInfo | None:
    row = await conn.fetchrow(
        "SELECT d.device_id, d.event_id, e.name AS event_name, d.gate_id, g.name AS gate_name, d.status"
        " FROM devices d JOIN events e USING (event_id) JOIN gates g ON g.gate_id = d.gate_id"
        " WHERE d.device_id = $1", device_id)
    return DeviceInfo(**dict(row)) if row else None


async def device_for_token(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, device_id: str,
                           token: str) -> DeviceInfo | None:
    """The device a token belongs to (active or revoked), or None when the token is not one we issued."""
    found = await conn.fetchval(
        "SELECT 1 FROM devices WHERE device_id = $1 AND event_id = $2 AND token_hash = $3",
        device_id, event_id, token_hash(token))
    return await device_info(conn, device_id) if found else None


def enrollment_link(base_url: str, code: str) -> str:
    """The address a kiosk opens: the code rides in the fragment, so it never reaches a server log."""
    return f"{base_url.rstrip('/')}/kiosk/#enroll={code}"
