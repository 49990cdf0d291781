"""An event's gate devices as the office sees them (gate, last scan received, what Postgres holds of its
journal) and the changes the console makes to them: rename and revoke, each audited with who did it.
Moving a device to another gate is accounts.move_device (audited there)."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as aioredis

from checkin.access.accounts import revoke_device
from checkin.access.audit import audit
from checkin.errors import NotFound
from checkin.keys import Keys

# The last scan a device sent (its highest seq, through the (device_id, seq) index) and the watermark up to
# which Postgres holds its journal: what the server knows of a kiosk without asking it.
_LIST_SQL = """
SELECT d.device_id, d.label, d.gate_id, g.name AS gate_name, d.status, d.enrolled_at, d.revoked_at,
       d.pin_hash IS NOT NULL AS pin_set, last.received_at AS last_seen, last.seq AS last_seq,
       coalesce(w.durable_seq, 0) AS durable_seq
FROM devices d JOIN gates g ON g.gate_id = d.gate_id
LEFT JOIN device_watermarks w ON w.device_id = d.device_id
LEFT JOIN LATERAL (SELECT s.seq, s.received_at FROM scans s WHERE s.device_id = d.device_id
                   ORDER BY s.seq DESC LIMIT 1) last ON true
WHERE d.event_id = $1
ORDER BY d.status, g.name, d.label, d.device_id
"""


async def list_devices(conn: asyncpg.Connection | asyncpg.Pool, event_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(_LIST_SQL, event_id)]


async def _device_of(conn: asyncpg.Connection, event_id: str, device_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT label, status FROM devices WHERE device_id = $1 AND event_id = $2 FOR UPDATE",
                              device_id, event_id)
    if row is None:
        raise NotFound(f"the event has no device {device_id!r}", field="device_id")
    return row


async def rename_device(conn: asyncpg.Connection, event_id: str, device_id: str, label: str, actor: str) -> None:
    async with conn.transaction():
        row = await _device_of(conn, event_id, device_id)
        await conn.execute("UPDATE devices SET label = $2 WHERE device_id = $1", device_id, label)
        await audit(conn, actor, "device_rename", event_id, device_id, {"from": row["label"], "to": label})


async def revoke_device_audited(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str,
                                device_id: str, actor: str, reason: str) -> None:
    async with conn.transaction():
        await _device_of(conn, event_id, device_id)
        await revoke_device(conn, redis, keys, device_id)
        await audit(conn, actor, "device_revoke", event_id, device_id, {"reason": reason})
