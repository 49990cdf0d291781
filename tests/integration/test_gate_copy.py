"""GET /api/v1/device/gate-copy against real Postgres and Redis: a whole copy first, then deltas by cursor
that carry exactly what changed (scans, an annulment, a revocation, a reload), and a whole presence again
once the stream was trimmed past the cursor."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

import checkin.events.store as events
from checkin.cards.store import revoke_card
from checkin.keys import Keys
from loadtest.event_factory import Scenario


def auth(scenario: Scenario) -> dict[str, str]:
    return {"Authorization": f"Bearer {scenario.device_token}"}


async def copy(gateway: TestClient, scenario: Scenario, since: str | None = None) -> dict[str, Any]:
    resp = await gateway.get("/api/v1/device/gate-copy", headers=auth(scenario),
                             params={"since": since} if since else {})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def scan(gateway: TestClient, scenario: Scenario, card: str) -> dict[str, Any]:
    resp = await gateway.post("/api/v1/scans", headers=auth(scenario),
                              json=scenario.scan(card, f"{scenario.event_id}-desk"))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def card_id(text: str) -> str:
    return text.split(".")[2]


async def test_whole_copy_holds_the_roster_masked_and_the_policy(gateway: TestClient, scenario: Scenario,
                                                                 pg_pool: asyncpg.Pool) -> None:
    whole = await copy(gateway, scenario)
    assert whole["whole"] == {"cards": True, "presence": True}
    assert whole["event_id"] == scenario.event_id and whole["gate_id"] == f"{scenario.event_id}-desk"
    assert set(whole["cards"]) == {card_id(text) for _, text in scenario.cards}
    people = {r["volunteer_id"]: r for r in await pg_pool.fetch(
        "SELECT volunteer_id, name, phone FROM volunteers WHERE volunteer_id = any($1::text[])",
        [vid for vid, _ in scenario.cards])}
    for vid, text in scenario.cards:
        record = whole["cards"][card_id(text)]
        assert record["v"] == vid and record["t"] == "測試志工隊"
        assert record["n"] != people[vid]["name"] and "○" in record["n"]  # masked, as the gate screen shows it
        assert record["i0"] < record["i1"] and len(record["s"]) == 1
        # nothing but what the gate shows or decides by (no phone, no full name, no national id)
        assert set(record) <= {"v", "n", "t", "z", "s", "o", "i0", "i1", "tb", "ts", "a"}
    assert whole["revoked"] == {} and whole["presence"] == {}
    assert whole["policy"]["status"] == "open" and whole["policy"]["debounce_s"] == 60
    assert whole["policy"]["insurance"] == "warn" and "day_offset_min" in whole["policy"]
    assert whole["gates"][f"{scenario.event_id}-in"] == {"z": "main", "m": "entry"}


async def test_deltas_carry_what_changed(gateway: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool,
                                         redis_client: aioredis.Redis, keys: Keys) -> None:
    first = await copy(gateway, scenario)
    (v0, c0), (v1, c1), (v2, c2) = scenario.cards[:3]
    await scan(gateway, scenario, c0)
    await scan(gateway, scenario, c1)
    await scan(gateway, scenario, c1)  # a duplicate: changes nothing

    delta = await copy(gateway, scenario, first["cursor"])
    assert delta["whole"] == {"cards": False, "presence": False}
    assert (delta["cards"], delta["revoked"]) == ({}, {})
    assert set(delta["presence"]) == {v0, v1}
    assert delta["presence"][v0]["on"] == 1 and delta["presence"][v0]["cat"] == delta["presence"][v0]["last"]
    assert set(delta["presence"][v0]) <= {"on", "last", "cat", "z", "g", "dd", "dm"}

    nothing = await copy(gateway, scenario, delta["cursor"])
    assert (nothing["cards"], nothing["presence"]) == ({}, {})

    async with pg_pool.acquire() as conn:
        await revoke_card(conn, redis_client, keys, card_id(c2), "lost")
        await events.load_event(conn, redis_client, keys, scenario.event_id)  # unchanged: nothing to send
    revoked = await copy(gateway, scenario, nothing["cursor"])
    assert revoked["cards"] == {card_id(c2): None} and revoked["revoked"] == {card_id(c2): True}
    assert revoked["presence"] == {}
    again = await copy(gateway, scenario)  # a whole copy says the same
    assert card_id(c2) not in again["cards"] and again["revoked"] == {card_id(c2): True}

    async with pg_pool.acquire() as conn:
        await conn.execute("UPDATE volunteers SET insured_to = '2001-01-01', training_basic = true"
                           " WHERE volunteer_id = $1", v1)
        await events.load_event(conn, redis_client, keys, scenario.event_id)
    changed = await copy(gateway, scenario, revoked["cursor"])
    assert set(changed["cards"]) == {card_id(c1)} and changed["revoked"] == {card_id(c1): False}
    assert changed["cards"][card_id(c1)]["tb"] == 1
    assert changed["cards"][card_id(c1)]["i1"] < revoked["server_time"]

    # Trimmed past the cursor: the entries that would say who changed are gone, so presence comes whole.
    await scan(gateway, scenario, scenario.cards[3][1])
    await redis_client.xtrim(keys.event(scenario.event_id).stream, maxlen=0)
    after_trim = await copy(gateway, scenario, changed["cursor"])
    assert after_trim["whole"] == {"cards": False, "presence": True}
    assert set(after_trim["presence"]) == {v0, v1, scenario.cards[3][0]}


async def test_annulment_reaches_the_copy(gateway: TestClient, scenario: Scenario) -> None:
    vid, card = scenario.cards[0]
    answer = await scan(gateway, scenario, card)
    before = await copy(gateway, scenario)
    assert before["presence"][vid]["on"] == 1
    resp = await gateway.post(f"/api/v1/scans/{answer['scan_id']}/annul", headers=auth(scenario),
                              json={"reason": "wrong person"})
    assert resp.status == 200, await resp.text()
    after = await copy(gateway, scenario, before["cursor"])
    assert after["whole"]["presence"] is False and after["presence"][vid]["on"] == 0


async def test_refusals(gateway: TestClient, scenario: Scenario, redis_client: aioredis.Redis, keys: Keys) -> None:
    first = await copy(gateway, scenario)
    for since in ("nonsense", first["cursor"] + "x", "0" * 16 + ".1.99999999999999999999-0"):
        resp = await gateway.get("/api/v1/device/gate-copy", headers=auth(scenario), params={"since": since})
        assert resp.status == 400
        assert await resp.json() == {"error": "invalid_field", "message": resp_message(await resp.json()),
                                     "message_zh": "有欄位缺少或內容有誤：since", "field": "since",
                                     "request_id": resp.headers["X-Request-Id"]}
    # A cursor of another history (another epoch): a whole copy, never a wrong delta
    other = await copy(gateway, scenario, "0123456789abcdef.0.0-0")
    assert other["whole"] == {"cards": True, "presence": True}
    resp = await gateway.get("/api/v1/device/gate-copy")
    assert resp.status == 401 and (await resp.json())["error"] == "missing_token"
    forged = scenario.device_token.rsplit(".", 1)[0] + ".forged"
    resp = await gateway.get("/api/v1/device/gate-copy", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status == 401 and (await resp.json())["error"] == "bad_token"
    # Redis lost the event: 503 with Retry-After, the kiosk keeps the copy it has
    await redis_client.delete(keys.event(scenario.event_id).meta)
    resp = await gateway.get("/api/v1/device/gate-copy", headers=auth(scenario))
    assert resp.status == 503 and resp.headers["Retry-After"] == "2"


def resp_message(body: dict[str, Any]) -> str:
    message = body["message"]
    assert isinstance(message, str) and message
    return message


async def test_a_token_asking_too_often_is_slowed_down(gateway: TestClient, scenario: Scenario) -> None:
    statuses = [(await gateway.get("/api/v1/device/gate-copy", headers=auth(scenario))).status for _ in range(10)]
    assert statuses == [200] * 10  # a burst is fine (a kiosk starting, coming back online)
    for _ in range(30):  # then one every 2 s: asking as fast as it can, it is refused soon
        resp = await gateway.get("/api/v1/device/gate-copy", headers=auth(scenario))
        if resp.status != 200:
            break
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["error"] == "rate_limited"
