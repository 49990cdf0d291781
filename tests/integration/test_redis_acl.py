"""The ACL user that docs/scaling.md gives for a shared Redis is enough for the whole system and no more:
the line is read from the page and applied with this run's own password and key prefix, then a scan goes
through the gateway, the recorder stores it, the event is rebuilt and a live snapshot is taken, all as that
user; another application's keys and the administrative commands stay out of its reach."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import secrets
import shlex
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError, ResponseError
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from checkin.config import Config
from checkin.consumers.live import LiveServer
from checkin.consumers.recorder import make_recorder
from checkin.events.rebuild import ensure_loaded
from checkin.gateway.app import create_app
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.servers import free_port
from loadtest.event_factory import Scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


def _acl_line() -> str:
    lines = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("ACL SETUSER checkin ")]
    assert len(lines) == 1, "docs/scaling.md should give exactly one ACL SETUSER line"
    return lines[0]


@pytest.fixture
async def acl_url(redis_client: aioredis.Redis, redis_url: str, redis_prefix: str) -> AsyncIterator[str]:
    user, password = f"checkin-{secrets.token_hex(3)}", secrets.token_hex(16)
    line = _acl_line().replace(">CHANGE-ME", f">{password}").replace("~checkin:*", f"~{redis_prefix}:*")
    words = shlex.split(line)
    words[2] = user
    await redis_client.execute_command(*words)
    parts = urlsplit(redis_url)
    yield urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}"))
    await redis_client.acl_deluser(user)


async def test_the_documented_acl_user_runs_the_system(aiohttp_client, acl_url: str, test_config: Config,  # type: ignore[no-untyped-def]
                                                        scenario: Scenario, pg_pool: asyncpg.Pool, keys: Keys,
                                                        redis_client: aioredis.Redis) -> None:
    config = dataclasses.replace(test_config, redis_url=acl_url)
    limited = create_redis(acl_url)
    recorder = make_recorder(config, limited, f"acl-{secrets.token_hex(2)}")
    running = asyncio.create_task(recorder.run())
    try:
        gateway = await aiohttp_client(create_app(config))
        auth = {"Authorization": f"Bearer {scenario.device_token}"}
        body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
        resp = await gateway.post("/api/v1/scans", json=body, headers=auth)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["verdict"] == "checked_in"
        assert (await gateway.get("/readyz")).status == 200
        deadline = asyncio.get_running_loop().time() + 10
        while not await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id):
            assert asyncio.get_running_loop().time() < deadline, "the recorder stored nothing as the ACL user"
            await asyncio.sleep(0.05)

        ev = keys.event(scenario.event_id)
        await redis_client.delete(*ev.all_state())
        async with pg_pool.acquire() as conn:
            assert scenario.event_id in await ensure_loaded(conn, limited, keys)

        live = LiveServer(config, pg_pool, limited)
        port = free_port()
        async with serve(live.handle, "127.0.0.1", port, process_request=live.authorize):
            url = f"ws://127.0.0.1:{port}/ws/events/{scenario.event_id}?token={scenario.coordinator_token}"
            async with connect(url) as ws:
                snapshot = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        await live.close()
        assert snapshot["view"]["totals"]["on_site"] == 1

        await redis_client.set("another-app:secret", "x")
        try:
            with pytest.raises(NoPermissionError):
                await limited.get("another-app:secret")
            for command in (("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*")):
                with pytest.raises(ResponseError, match=re.compile("permission", re.I)):
                    await limited.execute_command(*command)
        finally:
            await redis_client.delete("another-app:secret")
    finally:
        recorder.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(running, 5)
        await limited.aclose()
