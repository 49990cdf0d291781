"""One line in audit_log for a change a person made: who, what, which event, about what, and the details."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson


async def audit(conn: asyncpg.Connection | asyncpg.Pool, actor: str, action: str, event_id: str | None,
                subject: str | None, detail: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, event_id, subject, detail) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
        actor, action, event_id, subject, orjson.dumps(detail).decode())
