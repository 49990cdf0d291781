"""Arbitrary bodies, bytes, headers and tokens at every endpoint: never a 500, and every 4xx is JSON with "error".

Also backpressure: a stream past its configured backlog, and Redis gone, answer 503 with Retry-After and
store nothing.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import orjson
import redis.asyncio as aioredis
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import checkin.events.store as events
from checkin.config import Config
from checkin.gateway.app import create_app
from checkin.keys import Keys
from checkin.servers import EmbeddedValkey, free_port
from loadtest.event_factory import Scenario

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def dumps(value: Any) -> bytes:
    """Any drawn value as JSON text (the stdlib writes integers past 64 bits, which orjson refuses)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
                      max_size=80)


def scan_like(scenario: Scenario) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly-valid scans with any field swapped for anything, so validation is explored field by field."""
    gates = list(scenario.gates) + ["no-such-gate", "ev-other-in"]
    cards = [c for _, c in scenario.cards[:3]] + ["VC1.KAAAAA.AAAAAAAA." + "A" * 103]
    times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2300, 1, 1),
                         timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat())
    fields = {
        "scan_id": st.uuids().map(str) | json_values,
        "card": st.sampled_from(cards) | st.text(max_size=600) | json_values,
        "gate_id": st.sampled_from(gates) | st.text(max_size=70) | json_values,
        "scanned_at": times | st.just(datetime.now(UTC).isoformat()) | st.text(max_size=40) | json_values,
        "seq": st.integers(min_value=-5, max_value=2**64) | json_values,
        "mode": st.sampled_from(["entry", "exit", "auto", "sideways"]) | json_values,
    }
    return st.fixed_dictionaries({}, optional=fields)


def tokens(scenario: Scenario) -> st.SearchStrategy[str | None]:
    real = scenario.device_token
    others = st.one_of(
        st.none(), st.just(scenario.coordinator_token), header_text,
        st.builds(lambda cut, junk: real[:cut] + junk, st.integers(0, len(real)), header_text),
        st.builds(lambda other: f"{scenario.event_id}.D{other}.secret", st.text("ABCDEFGHIJ234567", max_size=12)),
    )
    # a valid token most of the time, so the body's checks are reached
    return st.integers(0, 3).flatmap(lambda n: others if n == 0 else st.just(real))


async def _send(client, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    try:
        resp = await client.request(method, path, data=data, headers=headers)
    except (ValueError, aiohttp.ClientError):
        assume(False)  # the client itself would not send this request
        return
    body = await resp.read()
    event(f"{method} {path.split('/')[3] if path.count('/') > 2 else path} -> {resp.status}")
    assert resp.status < 500, (method, path, data, headers, resp.status, body)
    if resp.status >= 400:
        assert resp.content_type == "application/json", (path, resp.status, body)
        assert "error" in orjson.loads(body), body


def _auth(token: str | None, scheme: str) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"{scheme} {token}"}


@FUZZ
@given(data=st.data())
async def test_scan_endpoints_never_fail(gateway, scenario: Scenario, data: st.DataObject) -> None:
    token = data.draw(tokens(scenario))
    scheme = data.draw(st.integers(0, 5).map(lambda n: ["bearer", "Basic", ""][n] if n < 3 else "Bearer"))
    kind = data.draw(st.sampled_from(["scan", "batch", "json", "bytes"]))
    if kind == "scan":
        path, body = "/api/v1/scans", dumps(data.draw(scan_like(scenario)))
    elif kind == "batch":
        items = data.draw(st.lists(scan_like(scenario) | json_values, max_size=5))
        wrapper = data.draw(st.sampled_from(["scans", "scan", None]))
        path, body = "/api/v1/scans/batch", dumps({wrapper: items} if wrapper else items)
    else:
        path = data.draw(st.sampled_from(["/api/v1/scans", "/api/v1/scans/batch"]))
        body = dumps(data.draw(json_values)) if kind == "json" else data.draw(st.binary(max_size=300))
    headers = {**_auth(token, scheme), "Content-Type": data.draw(st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]))}
    await _send(gateway, "POST", path, body, headers)


@FUZZ
@given(data=st.data())
async def test_other_endpoints_never_fail(gateway, scenario: Scenario, data: st.DataObject) -> None:
    token = data.draw(tokens(scenario))
    event = data.draw(st.sampled_from([scenario.event_id, "ev-nope"]) | st.text(
        st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_characters="/?#%", exclude_categories=("Cs",)),
        min_size=1, max_size=70))
    method, path = data.draw(st.sampled_from([
        ("POST", "/api/v1/enroll"), ("GET", "/api/v1/device"), ("GET", "/api/v1/time"),
        ("GET", f"/api/v1/events/{event}/headcount"), ("GET", "/healthz"), ("GET", "/readyz"),
        ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/scans"), ("PUT", "/api/v1/enroll"),
        ("DELETE", "/api/v1/scans/batch"), ("GET", "/api/v1/nothing-here"),
    ]))
    body = data.draw(st.none() | st.binary(max_size=200) | json_values.map(dumps)
                     | st.fixed_dictionaries({"code": json_values | st.text(max_size=70)}).map(dumps))
    await _send(gateway, method, path, body, _auth(token, "Bearer"))


async def test_too_large_and_too_many(gateway, scenario: Scenario) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    resp = await gateway.post("/api/v1/scans/batch", data=b"[" * 2_000_000, headers=auth)
    assert resp.status == 413 and (await resp.json())["error"] == "body_too_large"
    gate = f"{scenario.event_id}-desk"
    many = {"scans": [scenario.scan(scenario.cards[0][1], gate) for _ in range(1001)]}
    resp = await gateway.post("/api/v1/scans/batch", json=many, headers=auth)
    assert resp.status == 400 and (await resp.json())["field"] == "scans"


async def test_backlogged_stream_answers_503_and_stores_nothing(
        aiohttp_client, test_config: Config, scenario: Scenario, redis_client: aioredis.Redis, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(create_app(dataclasses.replace(test_config, stream_max_backlog=3)))
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    gate = f"{scenario.event_id}-desk"
    ev = keys.event(scenario.event_id)
    first = [scenario.scan(card, gate) for _, card in scenario.cards[:3]]
    for scan in first:
        assert (await client.post("/api/v1/scans", json=scan, headers=auth)).status == 200
    late = scenario.scan(scenario.cards[3][1], gate)
    resp = await client.post("/api/v1/scans", json=late, headers=auth)
    assert resp.status == 503 and int(resp.headers["Retry-After"]) > 0
    assert (await resp.json())["error"] == "backlogged"
    resp = await client.post("/api/v1/scans/batch", json={"scans": [late]}, headers=auth)
    assert resp.status == 503 and "Retry-After" in resp.headers
    assert await redis_client.xlen(ev.stream) == 3
    assert not await redis_client.exists(ev.answer(late["scan_id"]))
    replay = await client.post("/api/v1/scans", json=first[0], headers=auth)  # acknowledged: still answered
    assert replay.status == 200 and (await replay.json())["verdict"] == "checked_in"

    entries = await redis_client.xrange(ev.stream, count=1)  # the recorder catches up and trims
    await redis_client.xdel(ev.stream, entries[0][0])
    resp = await client.post("/api/v1/scans", json=late, headers=auth)
    assert resp.status == 200 and (await resp.json())["verdict"] == "checked_in"


async def test_redis_gone_answers_503(aiohttp_client, test_config: Config, scenario: Scenario,  # type: ignore[no-untyped-def]
                                      pg_pool: asyncpg.Pool, keys: Keys, tmp_path) -> None:
    valkey = EmbeddedValkey(tmp_path, free_port())
    url = valkey.start(persist=False)
    try:
        own = aioredis.Redis.from_url(url)
        async with pg_pool.acquire() as conn:
            await events.load_event(conn, own, keys, scenario.event_id)
        await own.aclose()
        client = await aiohttp_client(create_app(dataclasses.replace(test_config, redis_url=url)))
        auth = {"Authorization": f"Bearer {scenario.device_token}"}
        gate = f"{scenario.event_id}-desk"
        ok = await client.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], gate), headers=auth)
        assert ok.status == 200
    finally:
        valkey.stop()
    at = datetime.now(UTC) - timedelta(minutes=5)
    known_gate = scenario.scan(scenario.cards[1][1], gate, at)  # the gateway knows this gate: straight to Lua
    new_gate = scenario.scan(scenario.cards[1][1], f"{scenario.event_id}-in", at)  # not yet seen: directory
    for path, body in (("/api/v1/scans", known_gate), ("/api/v1/scans", new_gate),
                       ("/api/v1/scans/batch", {"scans": [known_gate, new_gate]})):
        resp = await client.post(path, json=body, headers=auth)
        assert resp.status == 503, await resp.text()
        assert (await resp.json())["error"] == "unavailable" and "Retry-After" in resp.headers
    assert uuid.UUID(known_gate["scan_id"])  # nothing was acknowledged, so the kiosk keeps both
