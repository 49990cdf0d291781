"""Real servers for the tests, started once per session.

By default an embedded PostgreSQL and Valkey are started in a temporary folder. Set
CHECKIN_TEST_POSTGRES_URL and CHECKIN_TEST_REDIS_URL to use other servers (for example this
machine's own on their standard ports): the tests then work in a database and a key prefix of
their own and remove both at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings

from checkin.config import Config
from checkin.db import migrate
from checkin.keys import Keys
from checkin.servers import EmbeddedPostgres, EmbeddedValkey, free_port

RUN_ID = secrets.token_hex(4)

# Examples are judged on what they show, not how fast a busy 2-core machine runs or generates them.
settings.register_profile("checkin", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("checkin")


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    pg_url = os.environ.get("CHECKIN_TEST_POSTGRES_URL")
    redis_url = os.environ.get("CHECKIN_TEST_REDIS_URL")
    started: list[EmbeddedPostgres | EmbeddedValkey] = []
    tmp = Path(tempfile.mkdtemp(prefix="checkin-test-"))
    try:
        if not pg_url:
            pg = EmbeddedPostgres(tmp, database="postgres")
            pg_url = pg.start()
            started.append(pg)
        if not redis_url:
            vk = EmbeddedValkey(tmp, free_port(), password=secrets.token_hex(16))  # as `checkin up` runs it
            redis_url = vk.start(persist=False)
            started.append(vk)
        yield pg_url, redis_url
    finally:
        for server in reversed(started):
            server.stop()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def pg_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """A fresh, migrated database of the tests' own on the server; dropped afterwards."""
    admin_url = server_urls[0]
    name = f"checkin_test_{RUN_ID}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        conn = await asyncpg.connect(_with_database(admin_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(create())
    yield _with_database(admin_url, name)
    asyncio.run(drop())


@pytest.fixture(scope="session")
def redis_url(server_urls: tuple[str, str]) -> str:
    return server_urls[1]


@pytest.fixture(scope="session")
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of the tests' own; every key under it is removed afterwards."""
    prefix = f"checkin-test-{RUN_ID}"
    yield prefix

    async def clean() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                await client.delete(key)
        finally:
            await client.aclose()

    asyncio.run(clean())


@pytest.fixture(scope="session")
def test_config(pg_url: str, redis_url: str, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Config:
    data_dir = tmp_path_factory.mktemp("data")
    # One test device sends far faster than a gate can scan; the security tests set the real limit.
    return Config(postgres_url=pg_url, redis_url=redis_url, redis_prefix=redis_prefix, data_dir=data_dir,
                  recorder_block_ms=50, recorder_claim_idle_ms=1000, device_scans_per_s=100_000)


@pytest.fixture(scope="session")
def keys(redis_prefix: str) -> Keys:
    return Keys(redis_prefix)


@pytest.fixture(scope="session")
async def pg_pool(pg_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=8)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
