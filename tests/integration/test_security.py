"""Hostile input and stolen credentials get the documented refusal, and nothing changes."""

from __future__ import annotations

import dataclasses

import asyncpg
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from checkin.access.accounts import revoke_device
from checkin.config import Config
from checkin.gateway.app import create_app
from checkin.gateway.state import state_key
from checkin.keys import Keys
from loadtest.event_factory import Scenario, make_event


async def _counts(redis: aioredis.Redis, keys: Keys, event_id: str) -> dict[bytes, bytes]:
    return await redis.hgetall(keys.event(event_id).counts)


async def test_revoked_device_token_is_refused(gateway, scenario: Scenario, pg_pool: asyncpg.Pool,
                                               redis_client: aioredis.Redis, keys: Keys) -> None:
    device_id = scenario.device_token.split(".")[1]
    async with pg_pool.acquire() as conn:
        await revoke_device(conn, redis_client, keys, device_id)
    before = await _counts(redis_client, keys, scenario.event_id)
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk"),
                              headers={"Authorization": f"Bearer {scenario.device_token}"})
    assert resp.status == 403
    assert (await resp.json())["error"] == "device_revoked"
    assert await _counts(redis_client, keys, scenario.event_id) == before


async def test_device_token_of_one_event_cannot_scan_into_another(
        gateway, scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys) -> None:
    async with pg_pool.acquire() as conn:
        other = await make_event(conn, redis_client, keys, volunteers=2)
    # The token names its own event; swapping the event part makes it a token nobody issued.
    _, device_id, secret = scenario.device_token.split(".")
    forged = f"{other.event_id}.{device_id}.{secret}"
    resp = await gateway.post("/api/v1/scans", json=other.scan(other.cards[0][1], f"{other.event_id}-desk"),
                              headers={"Authorization": f"Bearer {forged}"})
    assert resp.status == 401
    # The genuine token at the other event's gate: the gate is not one of its event's.
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(other.cards[0][1], f"{other.event_id}-desk"),
                              headers={"Authorization": f"Bearer {scenario.device_token}"})
    body = await resp.json()
    assert resp.status in (200, 400, 403)
    if resp.status == 200:
        assert body["verdict"] == "rejected" and body["reason"] == "wrong_gate"
    assert await _counts(redis_client, keys, other.event_id) == {}


async def test_card_of_another_event_is_not_on_the_roster(gateway, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                          redis_client: aioredis.Redis, keys: Keys) -> None:
    async with pg_pool.acquire() as conn:
        other = await make_event(conn, redis_client, keys, volunteers=2)
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(other.cards[0][1], f"{scenario.event_id}-desk"),
                              headers={"Authorization": f"Bearer {scenario.device_token}"})
    body = await resp.json()
    assert body["verdict"] == "rejected" and body["reason"] == "not_on_roster"
    assert body["volunteer"] is None


async def test_kiosk_token_cannot_read_headcounts(gateway, scenario: Scenario) -> None:
    resp = await gateway.get(f"/api/v1/events/{scenario.event_id}/headcount",
                             headers={"Authorization": f"Bearer {scenario.device_token}"})
    assert resp.status == 401
    assert (await resp.json())["error"] == "unauthorized"


async def test_coordinator_of_one_event_sees_nothing_of_another(
        gateway, live_url: str, scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
        keys: Keys) -> None:
    async with pg_pool.acquire() as conn:
        other = await make_event(conn, redis_client, keys, volunteers=2)
    resp = await gateway.get(f"/api/v1/events/{other.event_id}/headcount",
                             headers={"Authorization": f"Bearer {scenario.coordinator_token}"})
    assert resp.status == 403
    resp = await gateway.get(f"/api/v1/events/{scenario.event_id}/headcount",
                             headers={"Authorization": f"Bearer {scenario.coordinator_token}"})
    assert resp.status == 200
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{live_url}/ws/events/{other.event_id}?token={scenario.coordinator_token}"):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{live_url}/ws/events/{scenario.event_id}?token=nope"):
            pass
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize("value", ["'; DROP TABLE scans; --", "x' OR '1'='1", "\\x00", "{ev}:scans", "*"])
async def test_injection_shaped_text_is_refused_or_stored_verbatim(gateway, scenario: Scenario,
                                                                   pg_pool: asyncpg.Pool, value: str) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    for field in ("card", "gate_id", "scan_id", "scanned_at"):
        body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
        body[field] = value
        resp = await gateway.post("/api/v1/scans", json=body, headers=auth)
        assert resp.status in (200, 400), await resp.text()
        answer = await resp.json()
        if resp.status == 200:
            assert answer["verdict"] == "rejected"
        else:
            assert answer["field"] == field
    assert await pg_pool.fetchval("SELECT count(*) FROM information_schema.tables WHERE table_name = 'scans'") == 1


async def test_deeply_nested_json_is_a_clear_400(gateway, scenario: Scenario) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    nested = b"[" * 100_000 + b"]" * 100_000
    resp = await gateway.post("/api/v1/scans", data=nested, headers=auth)
    assert resp.status == 400
    assert (await resp.json())["error"] in ("invalid_json", "invalid_body")
    resp = await gateway.post("/api/v1/scans/batch", data=b'{"scans": ' + nested + b"}", headers=auth)
    assert resp.status == 400
    # Nested but within the parser's depth: each item answers for itself, nothing is stored.
    resp = await gateway.post("/api/v1/scans/batch", json={"scans": [[[[[]]]], {"a": {"b": {"c": []}}}]},
                              headers=auth)
    results = (await resp.json())["results"]
    assert resp.status == 200 and [r["error"] for r in results] == ["invalid_body", "invalid_field"]


async def test_a_flooding_device_is_slowed_and_the_others_are_not(
        aiohttp_client, test_config: Config, scenario: Scenario, pg_pool: asyncpg.Pool,
        redis_client: aioredis.Redis, keys: Keys) -> None:
    import asyncio

    from checkin.access.accounts import enroll_device

    # The default budget: 10 scans a second per device with a burst of 30.
    gateway = await aiohttp_client(create_app(dataclasses.replace(test_config, device_scans_per_s=10)))
    limiter = gateway.server.app[state_key].scan_limit
    assert limiter is not None
    limiter.clock = lambda: 1000.0  # time stands still: the count below does not depend on this machine's speed

    async with pg_pool.acquire() as conn:
        _, calm_token = await enroll_device(conn, redis_client, keys, scenario.event_id,
                                            f"{scenario.event_id}-desk", "calm kiosk")
    gate = f"{scenario.event_id}-desk"
    flood_auth = {"Authorization": f"Bearer {scenario.device_token}"}
    calm_auth = {"Authorization": f"Bearer {calm_token}"}

    async def flood() -> list[int]:
        statuses = []
        for _ in range(120):
            resp = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], gate), headers=flood_auth)
            statuses.append(resp.status)
            if resp.status == 429:
                assert int(resp.headers["Retry-After"]) >= 1
                assert (await resp.json())["error"] == "rate_limited"
        return statuses

    async def calm() -> list[int]:
        statuses = []
        for _, card in scenario.cards[1:6]:
            resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, gate), headers=calm_auth)
            statuses.append(resp.status)
            await asyncio.sleep(0.05)
        return statuses

    flooded, calmed = await asyncio.gather(flood(), calm())
    assert flooded.count(200) == 30 and flooded.count(429) == 90  # the burst of 30, then nothing refills
    assert calmed == [200] * 5


async def test_slow_clients_holding_connections_do_not_stop_scans(test_config: Config, scenario: Scenario) -> None:
    """Two hundred connections that send half a request and stall; a real kiosk is still answered."""
    import asyncio

    from aiohttp.test_utils import TestServer

    server = TestServer(create_app(test_config), host="127.0.0.1")
    await server.start_server()
    stalled = []
    try:
        for _ in range(200):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"scan")
            await writer.drain()
            stalled.append((reader, writer))
        import aiohttp

        async with aiohttp.ClientSession() as session:
            body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
            async with session.post(f"http://127.0.0.1:{server.port}/api/v1/scans", json=body,
                                    headers={"Authorization": f"Bearer {scenario.device_token}"},
                                    timeout=aiohttp.ClientTimeout(total=10)) as resp:
                assert resp.status == 200
                assert (await resp.json())["verdict"] == "checked_in"
    finally:
        for _, writer in stalled:
            writer.close()
        await server.close()
