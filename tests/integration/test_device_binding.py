"""A kiosk token works only at its own gate and only at times the event can hold (issue 17, M3).

Each refusal is checked where it matters: the HTTP answer, and Postgres after the recorder has drained
the stream (the scans that were accepted in the same request are there; the refused ones are not).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import redis.asyncio as aioredis

from checkin.cli.main import build_parser
from checkin.keys import Keys
from checkin.streams import RECORDER_GROUP, group_backlogs
from loadtest.event_factory import Scenario
from tests.integration.test_scan_path import wait_for


async def _stored(pg_pool: asyncpg.Pool, scan_ids: list[str]) -> set[str]:
    rows = await pg_pool.fetch("SELECT scan_id FROM scans WHERE scan_id = any($1::uuid[])",
                               [uuid.UUID(s) for s in scan_ids])
    return {str(r["scan_id"]) for r in rows}


async def _drained(pg_pool: asyncpg.Pool, redis: aioredis.Redis, keys: Keys, scenario: Scenario,
                   accepted: list[str]) -> None:
    """Wait until the accepted scans are in Postgres and the recorder has nothing left in the stream."""
    await wait_for(lambda: _all_in(pg_pool, accepted), timeout=10)
    stream = keys.event(scenario.event_id).stream

    async def idle() -> bool:
        backlog = (await group_backlogs(redis, stream)).get(RECORDER_GROUP)
        return backlog is not None and backlog.pending == 0 and backlog.unread == 0

    await wait_for(idle, timeout=10)


async def _all_in(pg_pool: asyncpg.Pool, scan_ids: list[str]) -> bool:
    return await _stored(pg_pool, scan_ids) == set(scan_ids)


async def test_a_device_posting_another_gate_gets_403_and_nothing_is_stored(
        gateway, recorder, scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
        keys: Keys) -> None:
    desk, entry = f"{scenario.event_id}-desk", f"{scenario.event_id}-in"
    auth = scenario.auth(desk)  # enrolled at the desk
    before = await redis_client.hgetall(keys.event(scenario.event_id).counts)

    elsewhere = scenario.scan(scenario.cards[0][1], entry)
    resp = await gateway.post("/api/v1/scans", json=elsewhere, headers=auth)
    assert resp.status == 403
    assert await resp.json() == {"error": "gate_not_enrolled", "field": "gate_id",
                                 "message": f"this device is enrolled at gate '{desk}' and scans only there;"
                                            " an admin moves it with `checkin device move`",
                                 "message_zh": "這台裝置不屬於這個閘口", "request_id": resp.headers["X-Request-Id"]}
    assert await redis_client.hgetall(keys.event(scenario.event_id).counts) == before

    # In a journal the other gate's scan is refused alone; the scan at the device's own gate goes through.
    stray, own = scenario.scan(scenario.cards[1][1], entry), scenario.scan(scenario.cards[1][1], desk)
    resp = await gateway.post("/api/v1/scans/batch", json={"scans": [stray, own]}, headers=auth)
    assert resp.status == 200
    first, second = (await resp.json())["results"]
    assert (first["scan_id"], first["error"], first["field"]) == (stray["scan_id"], "gate_not_enrolled",
                                                                  "scans[0].gate_id")
    assert second["verdict"] == "checked_in"

    await _drained(pg_pool, redis_client, keys, scenario, [own["scan_id"]])
    assert await _stored(pg_pool, [elsewhere["scan_id"], stray["scan_id"]]) == set()

    # The device enrolled at the entry gate scans there.
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], entry),
                              headers=scenario.auth(entry))
    assert resp.status == 200 and (await resp.json())["verdict"] == "checked_in"


@pytest.mark.parametrize("when", [datetime(2199, 1, 1, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC)],
                         ids=["far future", "far past"])
async def test_a_batch_far_from_the_event_gets_per_scan_refusals(
        gateway, recorder, scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys,
        when: datetime) -> None:
    desk = f"{scenario.event_id}-desk"
    card = scenario.cards[2][1]
    now = datetime.now(UTC)
    check_in = scenario.scan(card, desk, now - timedelta(hours=1))
    forged = [scenario.scan(card, desk, when), scenario.scan(card, desk, when + timedelta(hours=6))]
    check_out = scenario.scan(card, desk, now - timedelta(minutes=10))
    resp = await gateway.post("/api/v1/scans/batch", json={"scans": [check_in, *forged, check_out]},
                              headers=scenario.auth(desk))
    assert resp.status == 200
    results = (await resp.json())["results"]
    code = "scan_in_future" if when > now else "outside_event_dates"
    assert [r.get("verdict") or r["error"] for r in results] == ["checked_in", code, code, "checked_out"]
    assert [r.get("field") for r in results[1:3]] == ["scans[1].scanned_at", "scans[2].scanned_at"]
    assert results[3]["session_minutes"] == 50  # paired with the honest check-in, not the forged times

    await _drained(pg_pool, redis_client, keys, scenario, [check_in["scan_id"], check_out["scan_id"]])
    assert await _stored(pg_pool, [s["scan_id"] for s in forged]) == set()
    stamps = await pg_pool.fetchval("SELECT max(scanned_at) - min(scanned_at) FROM scans WHERE event_id = $1",
                                    scenario.event_id)
    assert stamps == timedelta(minutes=50)

    # A live scan from a device whose clock says the same is re-stamped to the server's time, not refused.
    live = scenario.scan(scenario.cards[3][1], desk, when)
    resp = await gateway.post("/api/v1/scans", json=live, headers=scenario.auth(desk))
    assert resp.status == 200
    answer = await resp.json()
    assert answer["verdict"] == "checked_in" and "clock_skew" in answer["warnings"]


async def test_an_exit_override_is_ignored_at_an_entry_gate(gateway, scenario: Scenario) -> None:
    entry = f"{scenario.event_id}-in"
    card = scenario.cards[4][1]
    arrived = scenario.scan(card, entry, datetime.now(UTC) - timedelta(minutes=30))
    resp = await gateway.post("/api/v1/scans/batch", json={"scans": [arrived]}, headers=scenario.auth(entry))
    assert (await resp.json())["results"][0]["verdict"] == "checked_in"
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, entry, mode="exit"),
                              headers=scenario.auth(entry))
    answer = await resp.json()
    assert (answer["verdict"], answer["reason"], answer["on_site"]) == ("duplicate", "already_on_site", 1)


async def test_moving_a_device_is_an_audited_admin_act(gateway, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                      redis_client: aioredis.Redis, keys: Keys, test_config,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from checkin.access.accounts import add_user

    desk, exit_gate = f"{scenario.event_id}-desk", f"{scenario.event_id}-out"
    device_id = scenario.device_token.split(".")[1]
    async with pg_pool.acquire() as conn:
        admin, _ = await add_user(conn, "管理員", "admin", None)
        coordinator = await conn.fetchval("SELECT user_id FROM users WHERE event_id = $1 LIMIT 1", scenario.event_id)

        async def move(actor: str, gate: str) -> int:
            args = build_parser().parse_args(["device", "move", device_id, "--gate", gate, "--actor", actor,
                                              "--reason", "北門平板故障，改派"])
            try:
                return int(await args.action(test_config, args, conn, redis_client, keys))
            except (LookupError, ValueError):
                return 2

        assert await move(coordinator, exit_gate) == 2  # a coordinator may not
        assert await move(admin, "no-such-gate") == 2
        assert await move(admin, exit_gate) == 0
        assert "moved from gate" in capsys.readouterr().out
        audit = await conn.fetchrow("SELECT actor, subject, detail::text FROM audit_log WHERE action = 'device_move'"
                                    " AND event_id = $1", scenario.event_id)
    assert (audit["actor"], audit["subject"]) == (admin, device_id)
    assert f'"from_gate": "{desk}"' in audit["detail"] and f'"to_gate": "{exit_gate}"' in audit["detail"]

    resp = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[5][1], desk),
                              headers={"Authorization": f"Bearer {scenario.device_token}"})
    assert resp.status == 403 and (await resp.json())["error"] == "gate_not_enrolled"
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[5][1], exit_gate),
                              headers={"Authorization": f"Bearer {scenario.device_token}"})
    assert resp.status == 200 and (await resp.json())["reason"] == "not_on_site"
