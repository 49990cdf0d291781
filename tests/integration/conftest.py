"""Running parts of the system, in-process, against the real servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from websockets.asyncio.server import serve

from checkin.config import Config
from checkin.consumers.live import LiveServer
from checkin.consumers.recorder import Recorder, make_recorder
from checkin.gateway.app import create_app
from checkin.keys import Keys
from checkin.servers import free_port
from loadtest.event_factory import Scenario, make_event


@pytest.fixture
async def scenario(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys) -> Scenario:
    async with pg_pool.acquire() as conn:
        return await make_event(conn, redis_client, keys)


@pytest.fixture
async def gateway(aiohttp_client, test_config: Config, scenario: Scenario) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(test_config))


@pytest.fixture
async def recorder(test_config: Config, redis_client: aioredis.Redis) -> AsyncIterator[Recorder]:
    rec = make_recorder(test_config, redis_client, "test-recorder")
    task = asyncio.create_task(rec.run())
    yield rec
    rec.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


@pytest.fixture
async def live_url(test_config: Config, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis) -> AsyncIterator[str]:
    live = LiveServer(test_config, pg_pool, redis_client)
    port = free_port()
    async with serve(live.handle, "127.0.0.1", port, process_request=live.authorize):
        yield f"ws://127.0.0.1:{port}"
    await live.close()
