"""Redis loses an event's data: presence, counters and the roster come back from Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import redis.asyncio as aioredis

from checkin.events.rebuild import ensure_loaded
from checkin.keys import Keys
from loadtest.event_factory import Scenario


def _decoded(mapping: dict[bytes, bytes]) -> dict[bytes, object]:
    return {k: orjson.loads(v) for k, v in mapping.items()}


async def test_lost_event_state_is_rebuilt_from_the_scan_log(gateway, recorder, scenario: Scenario,
                                                             pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                             keys: Keys) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    gate = f"{scenario.event_id}-desk"
    start = datetime.now(UTC) - timedelta(hours=1)
    scans = []
    for i, (_, card) in enumerate(scenario.cards[:6]):
        scans.append(scenario.scan(card, gate, start + timedelta(minutes=i)))
    for _, card in scenario.cards[:2]:  # two of them leave again
        scans.append(scenario.scan(card, gate, start + timedelta(minutes=30)))
    scans.append(scenario.scan(scenario.cards[3][1], gate, start + timedelta(minutes=3, seconds=5)))  # a double scan
    resp = await gateway.post("/api/v1/scans/batch", json={"scans": scans}, headers=auth)
    verdicts = [r["verdict"] for r in (await resp.json())["results"]]
    assert verdicts == ["checked_in"] * 6 + ["checked_out"] * 2 + ["duplicate"]

    ev = keys.event(scenario.event_id)
    deadline = asyncio.get_running_loop().time() + 10
    while await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id) < len(scans):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    before_counts = await redis_client.hgetall(ev.counts)
    before_presence = await redis_client.hgetall(ev.presence)
    before_durable = await redis_client.hgetall(ev.durable)

    await redis_client.delete(*ev.all_state())  # what a Redis restart without persistence leaves
    # The first scan after the loss is refused as retryable (not as an unknown device) and starts the rebuild.
    resp = await gateway.post("/api/v1/scans", headers=auth,
                              json=scenario.scan(scenario.cards[2][1], gate, datetime.now(UTC)))
    assert resp.status == 503
    assert (await resp.json())["error"] == "rebuilding"
    assert resp.headers["Retry-After"]
    deadline = asyncio.get_running_loop().time() + 10
    while not await redis_client.exists(ev.meta):
        assert asyncio.get_running_loop().time() < deadline, "the gateway did not rebuild the event"
        await asyncio.sleep(0.05)
    async with pg_pool.acquire() as conn:
        assert scenario.event_id not in await ensure_loaded(conn, redis_client, keys)  # only once

    assert await redis_client.hgetall(ev.counts) == before_counts
    assert _decoded(await redis_client.hgetall(ev.presence)) == _decoded(before_presence)
    assert await redis_client.hgetall(ev.durable) == before_durable

    # The gate works again and knows who is on site: the third volunteer checks out (the refused scan is retried).
    resp = await gateway.post("/api/v1/scans", headers=auth,
                              json=scenario.scan(scenario.cards[2][1], gate, datetime.now(UTC)))
    answer = await resp.json()
    assert answer["verdict"] == "checked_out"
    assert answer["on_site"] == 3


async def test_the_gateway_notices_a_redis_that_came_back_empty(gateway, recorder, scenario: Scenario,
                                                                 pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                                 keys: Keys) -> None:
    """No scan needed: the gateway's watch finds the event list gone and rebuilds from Postgres."""
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
    resp = await gateway.post("/api/v1/scans", json=body, headers=auth)
    assert (await resp.json())["verdict"] == "checked_in"
    deadline = asyncio.get_running_loop().time() + 10
    while not await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id):
        assert asyncio.get_running_loop().time() < deadline, "the scan never reached Postgres"
        await asyncio.sleep(0.05)

    ev = keys.event(scenario.event_id)
    # What a Valkey restarted without its files holds of this event and of the list of events: nothing.
    await redis_client.delete(keys.events, *ev.all_state())
    deadline = asyncio.get_running_loop().time() + 15
    while not await redis_client.exists(ev.meta):
        assert asyncio.get_running_loop().time() < deadline, "the gateway never rebuilt the lost event"
        await asyncio.sleep(0.1)
    assert await redis_client.sismember(keys.events, scenario.event_id)
    presence = orjson.loads(await redis_client.hget(ev.presence, scenario.cards[0][0]))
    assert presence["on"] == 1
    resp = await gateway.post("/api/v1/scans", json=body, headers=auth)  # the kiosk's re-send: stored once
    assert resp.status == 200
