"""One scan from the HTTP request to the row in Postgres and to the websocket message."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from websockets.asyncio.client import connect

from loadtest.event_factory import Scenario


async def wait_for(predicate, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_scan_reaches_postgres_and_websocket(gateway, recorder, live_url, scenario: Scenario,
                                                   pg_pool: asyncpg.Pool) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    url = f"{live_url}/ws/events/{scenario.event_id}?token={scenario.coordinator_token}"
    async with connect(url) as ws:
        first = orjson.loads(await ws.recv())
        assert first["type"] == "snapshot"
        assert first["view"]["totals"]["on_site"] == 0

        vid, card = scenario.cards[0]
        body = scenario.scan(card, f"{scenario.event_id}-desk")
        resp = await gateway.post("/api/v1/scans", json=body, headers=auth)
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        assert answer["verdict"] == "checked_in"
        assert answer["on_site"] == 1
        assert answer["volunteer"]["team"] == "測試志工隊"

        update = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        while update["type"] == "beat":  # a tick may come before the scan reaches the live server
            update = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        assert update["type"] == "delta"
        assert update["view"]["totals"]["on_site"] == 1
        assert update["view"]["zones"][0]["zone_id"] == "main" and update["view"]["zones"][0]["present"] == 1

    row = await wait_for(lambda: pg_pool.fetchrow("SELECT * FROM scans WHERE scan_id = $1", uuid.UUID(body["scan_id"])))
    assert row["volunteer_id"] == vid
    assert row["verdict"] == "checked_in"
    session = await pg_pool.fetchrow("SELECT * FROM sessions WHERE checkin_scan_id = $1", row["scan_id"])
    assert session["in_at"] == row["scanned_at"]
    durable = await wait_for(lambda: pg_pool.fetchval(
        "SELECT durable_seq FROM device_watermarks w JOIN devices d USING (device_id) WHERE d.event_id = $1",
        scenario.event_id))
    assert durable == 1


async def test_same_scan_id_twice_gives_same_answer_and_one_row(gateway, recorder, scenario: Scenario,
                                                                pg_pool: asyncpg.Pool) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    body = scenario.scan(scenario.cards[1][1], f"{scenario.event_id}-desk")
    first = await (await gateway.post("/api/v1/scans", json=body, headers=auth)).json()
    second = await (await gateway.post("/api/v1/scans", json=body, headers=auth)).json()
    first.pop("durable_seq")
    second.pop("durable_seq")
    assert first == second
    assert first["on_site"] == 1
    await wait_for(lambda: pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id))
    await asyncio.sleep(0.3)
    assert await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id) == 1


async def test_check_out_after_debounce_closes_the_session(gateway, recorder, scenario: Scenario,
                                                           pg_pool: asyncpg.Pool) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    card = scenario.cards[2][1]
    gate = f"{scenario.event_id}-desk"
    start = datetime.now(UTC) - timedelta(minutes=90)
    batch = {"scans": [scenario.scan(card, gate, start), scenario.scan(card, gate, start + timedelta(seconds=10)),
                       scenario.scan(card, gate, start + timedelta(minutes=75))]}
    resp = await gateway.post("/api/v1/scans/batch", json=batch, headers=auth)
    assert resp.status == 200, await resp.text()
    results = (await resp.json())["results"]
    assert [r["verdict"] for r in results] == ["checked_in", "duplicate", "checked_out"]
    assert results[1]["reason"] == "debounce"
    assert results[2]["session_minutes"] == 75
    checkin_id = uuid.UUID(results[0]["scan_id"])
    session = await wait_for(lambda: pg_pool.fetchrow(
        "SELECT * FROM sessions WHERE checkin_scan_id = $1 AND out_at IS NOT NULL", checkin_id))
    assert session["out_at"] - session["in_at"] == timedelta(minutes=75)
    assert session["checkout_scan_id"] == uuid.UUID(results[2]["scan_id"])


async def test_bad_requests_get_json_errors(gateway, scenario: Scenario) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    resp = await gateway.post("/api/v1/scans", data=b"{not json", headers=auth)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_json"
    good = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
    resp = await gateway.post("/api/v1/scans", json={**good, "scan_id": "x"}, headers=auth)
    assert resp.status == 400
    assert (await resp.json())["field"] == "scan_id"
    # The model finds a missing field after the fields that are there (msgspec decodes in the body's order).
    resp = await gateway.post("/api/v1/scans", json={"scan_id": "x"}, headers=auth)
    assert resp.status == 400 and (await resp.json())["field"] == "card"
    resp = await gateway.post("/api/v1/scans", json={**good, "scanned_at": "2023-02-05T18:00:00"}, headers=auth)
    assert (await resp.json())["field"] == "scanned_at"  # RFC 3339 needs the offset
    resp = await gateway.post("/api/v1/scans", json=scenario.scan("x", "g"))
    assert resp.status == 401
    assert (await resp.json())["error"] == "missing_token"
    forged = scenario.device_token.rsplit(".", 1)[0] + ".forged"
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], "g"),
                              headers={"Authorization": f"Bearer {forged}"})
    assert resp.status == 401
    assert (await resp.json())["error"] == "bad_token"
    resp = await gateway.post("/api/v1/scans", data=b"x" * 2_000_000, headers=auth)
    assert resp.status == 413
    assert (await resp.json())["error"] == "body_too_large"


async def test_health_and_readiness(gateway) -> None:
    assert (await gateway.get("/healthz")).status == 200
    resp = await gateway.get("/readyz")
    assert resp.status == 200
    assert (await resp.json()) == {"status": "ready", "postgres": "ok", "redis": "ok"}
