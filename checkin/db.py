"""Postgres access: the connection pool and the schema migrations."""

from __future__ import annotations

import logging
from importlib import resources

import asyncpg

from checkin.config import ConfigError

log = logging.getLogger(__name__)

# Serialises migrators: two processes starting at once must not both apply a file.
_MIGRATION_LOCK = 72_301_114


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, command_timeout=60)
    assert pool is not None
    return pool


async def connect(url: str | None) -> asyncpg.Connection:
    """One connection for a command; an unreachable server is a one-line ConfigError, not a traceback."""
    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach Postgres at {url}: {exc}") from None


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every bundled migration, in order."""
    folder = resources.files("checkin") / "migrations"
    found = sorted(
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return found


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; return those applied."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            log.info("applied migration %s", version)
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied
