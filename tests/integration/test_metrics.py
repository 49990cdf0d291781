"""/metrics on the gateway, the recorder and the live server after one scan, and the request id."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from checkin.config import Config
from checkin.consumers.metrics import RecorderMetrics
from checkin.consumers.recorder import make_recorder
from checkin.servers import free_port
from loadtest.event_factory import Scenario


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


async def until(probe: Callable[[], Awaitable[object]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def recorder_metrics_url(test_config: Config, redis_client: aioredis.Redis) -> AsyncIterator[str]:
    metrics, port = RecorderMetrics(), free_port()
    metrics.serve("127.0.0.1", port)
    rec = make_recorder(test_config, redis_client, "metrics-recorder", metrics=metrics)
    task = asyncio.create_task(rec.run())
    yield f"http://127.0.0.1:{port}/metrics"
    rec.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


async def fetch(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        return await resp.text()


async def test_one_scan_shows_on_every_process_metrics(gateway: TestClient, recorder_metrics_url: str, live_url: str,
                                                       scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    ws_url = f"{live_url}/ws/events/{scenario.event_id}?token={scenario.coordinator_token}"
    live_metrics = live_url.replace("ws://", "http://") + "/metrics"
    async with connect(ws_url) as ws:
        assert orjson.loads(await ws.recv())["type"] == "snapshot"
        body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
        resp = await gateway.post("/api/v1/scans", json=body, headers=scenario.auth(f"{scenario.event_id}-desk"))
        assert (await resp.json())["verdict"] == "checked_in"
        while orjson.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "delta":
            pass

        live = await fetch(live_metrics)
        assert sample(live, "checkin_live_clients", event_id=scenario.event_id) == 1
        assert sample(live, "checkin_live_scan_to_send_seconds_count") == 1
        assert sample(live, "checkin_live_queue_drops_total", event_id=scenario.event_id) == 0
        assert sample(live, "checkin_live_snapshot_resends_total", event_id=scenario.event_id) == 0

    gw = await (await gateway.get("/metrics")).text()
    assert sample(gw, "checkin_gateway_scans_total", verdict="checked_in") == 1
    assert sample(gw, "checkin_gateway_requests_total", route="/api/v1/scans", status="200") == 1
    assert sample(gw, "checkin_gateway_request_seconds_count", route="/api/v1/scans") == 1
    assert (sample(gw, "checkin_gateway_redis_round_trip_seconds_count") or 0) >= 1
    assert sample(gw, "checkin_gateway_batcher_queue_depth") == 0

    scan_id = uuid.UUID(str(body["scan_id"]))
    await until(lambda: pg_pool.fetchval("SELECT 1 FROM scans WHERE scan_id = $1", scan_id))

    async def recorder_caught_up() -> bool:
        text = await fetch(recorder_metrics_url)
        return (sample(text, "checkin_stream_length", event_id=scenario.event_id) == 1
                and sample(text, "checkin_recorder_pending", event_id=scenario.event_id) == 0)
    await until(recorder_caught_up)  # the backlog figures are taken between reads, a moment after the write
    rec = await fetch(recorder_metrics_url)
    assert (sample(rec, "checkin_recorder_rows_total") or 0) >= 1


async def test_refusals_are_counted_by_route(gateway: TestClient) -> None:
    for _ in range(40):  # the certificate lookup allows a burst of 30 an address
        await gateway.get("/api/v1/certificates/NOPE")
    text = await (await gateway.get("/metrics")).text()
    refused = sample(text, "checkin_gateway_rate_limited_total", route="/api/v1/certificates/{cert_id}")
    assert refused is not None and refused >= 10
    assert sample(text, "checkin_gateway_requests_total", route="/api/v1/certificates/{cert_id}",
                  status="429") == refused


async def test_a_request_id_is_echoed_or_made_and_errors_carry_it(gateway: TestClient, scenario: Scenario) -> None:
    auth = scenario.auth(f"{scenario.event_id}-desk")
    resp = await gateway.post("/api/v1/scans", data=b"{not json", headers={**auth, "X-Request-Id": "kiosk-7.abc"})
    assert resp.status == 400
    assert resp.headers["X-Request-Id"] == "kiosk-7.abc"
    assert (await resp.json())["request_id"] == "kiosk-7.abc"

    resp = await gateway.get("/healthz", headers={"X-Request-Id": "<script>" + "x" * 100})
    made = resp.headers["X-Request-Id"]
    assert made and "<" not in made and len(made) <= 64  # an unusable id is replaced, not echoed
    assert "request_id" not in await resp.text()  # a success carries it in the header only

    a = (await gateway.get("/nowhere")).headers["X-Request-Id"]
    assert (await (await gateway.get("/nowhere")).json())["message_zh"] == "找不到"
    b = await gateway.get("/nowhere")
    assert b.status == 404 and b.headers["X-Request-Id"] != a
    assert (await b.json())["request_id"] == b.headers["X-Request-Id"]


async def test_every_refusal_is_worded_in_chinese_too(gateway: TestClient, scenario: Scenario) -> None:
    """A page read in Chinese shows message_zh: raised by a handler (invalid_json) or answered by aiohttp (405),
    each refusal carries its code's wording (a roster's 422, returned as it is: test_console_setup.py)."""
    auth = scenario.auth(f"{scenario.event_id}-desk")
    bad_json = await (await gateway.post("/api/v1/scans", data=b"{not json", headers=auth)).json()
    assert (bad_json["error"], bad_json["message_zh"]) == ("invalid_json", "內容不是有效的 JSON")
    wrong_method = await gateway.delete("/api/v1/scans", headers=auth)
    assert wrong_method.status == 405
    assert (await wrong_method.json())["message_zh"] == "不支援這種操作方式"
