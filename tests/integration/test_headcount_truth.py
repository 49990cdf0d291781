"""Every dashboard figure equals a Postgres query: after the stream is trimmed, after the live server and the
gateway restart, and after Redis loses the event and it is rebuilt from the scans table.

The expected figures are computed here from the scans, annulments and roster tables in plain SQL, with
"today" the office's service day (checkin.hours.service_day under the event's hours policy), independently
of the counters the system keeps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from checkin.access.accounts import enroll_device
from checkin.config import Config
from checkin.consumers.live import LiveServer
from checkin.consumers.recorder import make_recorder
from checkin.events.rebuild import day_counts, ensure_loaded
from checkin.events.store import load_event, service_offset
from checkin.gateway.app import create_app
from checkin.hours.derive import service_day
from checkin.keys import Keys
from checkin.live.day_counts import gate_field, hour_of
from checkin.live.snapshot import apply_entry
from checkin.reconcile.store import load_policy
from checkin.servers import free_port
from loadtest.event_factory import Scenario, altered_card, make_event

TRIM_KEEP_MS = 1_000  # the recorder keeps this much of the stream past what it has stored (60 s by default)

_SCANS = """
SELECT verdict, count(*) AS total, count(*) FILTER (WHERE scanned_at >= $2 AND scanned_at < $3) AS today
FROM scans WHERE event_id = $1 GROUP BY verdict
"""
_GATES = """
SELECT g.gate_id, count(*) FILTER (WHERE s.verdict = 'checked_in') AS n_in,
       count(*) FILTER (WHERE s.verdict = 'checked_out') AS n_out, max(s.scanned_at) AS last
FROM gates g JOIN scans s ON s.gate_id = g.gate_id AND s.event_id = g.event_id
WHERE g.event_id = $1 AND s.scanned_at >= $2 AND s.scanned_at < $3
GROUP BY g.gate_id
"""
_HOURS = """
SELECT date_trunc('hour', scanned_at AT TIME ZONE $4) AS local_hour,
       count(*) FILTER (WHERE verdict = 'checked_in') AS n_in, count(*) FILTER (WHERE verdict = 'checked_out') AS n_out
FROM scans WHERE event_id = $1 AND scanned_at >= $2 AND scanned_at < $3 GROUP BY 1
"""
# Each volunteer's latest check-in or check-out that was not annulled: on site when it is a check-in.
_LATEST = """
WITH latest AS (
    SELECT DISTINCT ON (s.volunteer_id) s.volunteer_id, s.verdict, s.scanned_at, s.gate_id
    FROM scans s
    WHERE s.event_id = $1 AND s.verdict IN ('checked_in', 'checked_out')
      AND NOT EXISTS (SELECT 1 FROM annulments a WHERE a.scan_id = s.scan_id)
    ORDER BY s.volunteer_id, s.scanned_at DESC, s.received_at DESC
)
SELECT l.volunteer_id, l.verdict = 'checked_in' AS here, l.scanned_at, g.zone_id, coalesce(t.name, '') AS team,
       v.birth_year
FROM latest l JOIN volunteers v USING (volunteer_id)
LEFT JOIN teams t ON t.team_id = v.team_id LEFT JOIN gates g ON g.gate_id = l.gate_id
"""
_SHIFTS = """
SELECT s.shift_id, s.starts_at, s.ends_at, array_agg(a.volunteer_id) AS volunteers
FROM shifts s JOIN assignments a USING (shift_id) WHERE s.event_id = $1 GROUP BY s.shift_id
"""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def from_postgres(conn: asyncpg.Connection, event_id: str, now: datetime) -> dict[str, Any]:
    """The figures a dashboard must show at `now`, from the log alone."""
    policy = await load_policy(conn, event_id)
    tz = ZoneInfo(policy.timezone)
    day = service_day(now, policy)
    start = datetime.combine(day, time(policy.day_starts_hour), tz)
    end = datetime.combine(day + timedelta(days=1), time(policy.day_starts_hour), tz)
    event = await conn.fetchrow("SELECT starts_on, policy FROM events WHERE event_id = $1", event_id)
    early = timedelta(minutes=int(orjson.loads(event["policy"]).get("shift_early_min", 60)))

    scans = {r["verdict"]: (r["total"], r["today"]) for r in await conn.fetch(_SCANS, event_id, start, end)}
    latest = await conn.fetch(_LATEST, event_id)
    here = {r["volunteer_id"] for r in latest if r["here"]}
    last_seen = {r["volunteer_id"]: r["scanned_at"] for r in latest}
    zones: dict[str, int] = {}
    teams: dict[str, int] = {}
    for r in latest:
        if r["here"]:
            zones[r["zone_id"]] = zones.get(r["zone_id"], 0) + 1
            teams[r["team"]] = teams.get(r["team"], 0) + 1
    shifts, missing = {}, {}
    for r in await conn.fetch(_SHIFTS, event_id):
        if r["starts_at"] <= now < r["ends_at"]:
            assigned = set(r["volunteers"])
            shifts[r["shift_id"]] = len(assigned & here)
            gone = [v for v in assigned - here if v not in last_seen or last_seen[v] < r["starts_at"] - early]
            if gone:
                missing[r["shift_id"]] = len(gone)
    senior_year = event["starts_on"].year - 65
    return {
        "totals": {
            "on_site": len(here),
            "seniors_on_site": sum(1 for r in latest if r["here"] and r["birth_year"] <= senior_year),
            **{f"{name}_today": scans.get(verdict, (0, 0))[1] for verdict, name in (
                ("checked_in", "checked_in"), ("checked_out", "checked_out"), ("duplicate", "duplicates"),
                ("rejected", "rejected"))},
            "checked_in_total": scans.get("checked_in", (0, 0))[0],
            "checked_out_total": scans.get("checked_out", (0, 0))[0],
            "duplicates": scans.get("duplicate", (0, 0))[0], "rejected": scans.get("rejected", (0, 0))[0],
        },
        "zones": zones,
        "teams": teams,
        "gates": {r["gate_id"]: (r["n_in"], r["n_out"], _ms(r["last"]))
                  for r in await conn.fetch(_GATES, event_id, start, end)},
        "shifts": shifts,
        "missing": missing,
        "chart": {_ms(r["local_hour"].replace(tzinfo=tz)): (r["n_in"], r["n_out"])
                  for r in await conn.fetch(_HOURS, event_id, start, end, policy.timezone)
                  if r["n_in"] or r["n_out"]},
    }


def shown(view: dict[str, Any]) -> dict[str, Any]:
    """The same figures as a dashboard's view holds them (the scan rate aside: see docs/live.md)."""
    totals = {k: v for k, v in view["totals"].items()
              if k not in ("scans_per_minute", "last_received_ms", "service_day_start_ms")}
    return {
        "totals": totals,
        "zones": {z["zone_id"]: z["present"] for z in view["zones"] if z["present"]},
        "teams": {t["team"]: t["present"] for t in view["teams"] if t["present"]},
        "gates": {g["gate_id"]: (g["in"], g["out"], g["last_scan_ms"]) for g in view["gates"] if g["last_scan_ms"]},
        "shifts": {s["shift_id"]: s["present"] for s in view["shifts"] if s["started"]},
        "missing": {m["shift_id"]: m["count"] for m in view["missing"]},
        "chart": {b[0]: (b[1], b[2]) for b in view["chart"]["buckets"] if b[1] or b[2]},
    }


@asynccontextmanager
async def live_server(config: Config, pool: asyncpg.Pool, redis: aioredis.Redis) -> AsyncIterator[str]:
    live = LiveServer(config, pool, redis)
    port = free_port()
    try:
        async with serve(live.handle, "127.0.0.1", port, process_request=live.authorize):
            yield f"ws://127.0.0.1:{port}"
    finally:
        await live.close()


async def dashboards(gateway: TestClient, url: str, scenario: Scenario) -> list[dict[str, Any]]:
    """What /headcount says and what the websocket's first snapshot says."""
    resp = await gateway.get(f"/api/v1/events/{scenario.event_id}/headcount",
                             headers={"Authorization": f"Bearer {scenario.coordinator_token}"})
    assert resp.status == 200, await resp.text()
    async with connect(f"{url}/ws/events/{scenario.event_id}?token={scenario.coordinator_token}") as ws:
        snapshot = orjson.loads(await ws.recv())
    assert snapshot["type"] == "snapshot"
    return [(await resp.json())["view"], snapshot["view"]]


async def assert_true_to_postgres(gateway: TestClient, url: str, scenario: Scenario, pool: asyncpg.Pool,
                                  when: str) -> dict[str, Any]:
    seen = await dashboards(gateway, url, scenario)
    async with pool.acquire() as conn:
        expected = await from_postgres(conn, scenario.event_id, datetime.now(UTC))
    for where, view in zip(("/headcount", "websocket"), seen, strict=True):
        assert shown(view) == expected, f"{when}, {where}"
    return expected


@pytest.fixture
async def node_per_entry(redis_client: aioredis.Redis) -> AsyncIterator[None]:
    """One stream entry per radix node, so the recorder's approximate trim can drop every stored entry."""
    before = (await redis_client.config_get("stream-node-max-entries"))["stream-node-max-entries"]
    await redis_client.config_set("stream-node-max-entries", 1)
    yield
    await redis_client.config_set("stream-node-max-entries", before)


async def test_every_dashboard_figure_equals_postgres_after_trimming_restarts_and_a_redis_loss(
        aiohttp_client, test_config: Config, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys,
        node_per_entry: None) -> None:
    async with pg_pool.acquire() as conn:
        scenario = await make_event(conn, redis_client, keys)
        other = await make_event(conn, redis_client, keys, volunteers=1)  # its card is on no roster here
        # The service day turned about three hours ago, whatever the hour the suite runs at: the last
        # 40 minutes' scans are all today's, and those around the turn the day before's and today's.
        local_hour = datetime.now(ZoneInfo(await conn.fetchval("SELECT tz FROM events WHERE event_id = $1",
                                                               scenario.event_id))).hour
        await conn.execute("UPDATE events SET policy = policy || jsonb_build_object('hours', coalesce(policy->'hours',"
                           " '{}'::jsonb) || jsonb_build_object('day_starts_hour', $2::int)) WHERE event_id = $1",
                           scenario.event_id, (local_hour - 3) % 24)
        await load_event(conn, redis_client, keys, scenario.event_id)
        tokens = {"desk": scenario.device_token}
        for gate in ("in", "out"):
            _, tokens[gate] = await enroll_device(conn, redis_client, keys, scenario.event_id,
                                                  f"{scenario.event_id}-{gate}", f"{gate} kiosk")
        policy = await load_policy(conn, scenario.event_id)
    ev = keys.event(scenario.event_id)
    recorder = make_recorder(test_config, redis_client, f"truth-{uuid.uuid4().hex[:6]}", trim_keep_ms=TRIM_KEEP_MS,
                        maintain_every_s=0.2)
    recording = asyncio.create_task(recorder.run())
    gateway = await aiohttp_client(create_app(test_config))
    cards = [card for _, card in scenario.cards]
    now = datetime.now(UTC)
    tz = ZoneInfo(policy.timezone)
    day_start = datetime.combine(service_day(now, policy), time(policy.day_starts_hour), tz)

    async def batch(gate: str, scans: list[tuple[str, datetime]]) -> list[str]:
        body = {"scans": [scenario.scan(card, f"{scenario.event_id}-{gate}", at) for card, at in scans]}
        resp = await gateway.post("/api/v1/scans/batch", json=body, headers={"Authorization": f"Bearer {tokens[gate]}"})
        assert resp.status == 200, await resp.text()
        return [r["verdict"] for r in (await resp.json())["results"]]

    try:
        async with live_server(test_config, pg_pool, redis_client) as first_live:
            # Open before any scan: this live server follows the stream entry by entry from the start.
            async with connect(f"{first_live}/ws/events/{scenario.event_id}?token={scenario.coordinator_token}"):
                # The service day before: one still on site, one who left after the day turned at 04:00.
                assert await batch("desk", [(cards[19], day_start - timedelta(minutes=20)),
                                            (cards[18], day_start - timedelta(minutes=30)),
                                            (cards[18], min(day_start + timedelta(minutes=1), now))]) == \
                    ["checked_in", "checked_in", "checked_out"]
                arrived = [(cards[i], now - timedelta(minutes=40 - i)) for i in range(8)]
                assert await batch("desk", arrived) == ["checked_in"] * 8
                assert await batch("out", [(cards[0], now - timedelta(minutes=10)), (cards[1], now - timedelta(minutes=9)),
                                           (cards[10], now - timedelta(minutes=8))]) == \
                    ["checked_out", "checked_out", "duplicate"]  # the third never came in
                assert await batch("in", [(cards[2], now - timedelta(minutes=5))]) == ["duplicate"]
                assert await batch("desk", [(cards[3], arrived[3][1] + timedelta(seconds=10))]) == ["duplicate"]
                tampered = altered_card(cards[4])
                assert await batch("desk", [(tampered, now - timedelta(minutes=3)),
                                            (other.cards[0][1], now - timedelta(minutes=2))]) == ["rejected"] * 2
                for card in cards[8:10]:  # online scans: the server's clock
                    resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, f"{scenario.event_id}-desk"),
                                              headers={"Authorization": f"Bearer {tokens['desk']}"})
                    assert (await resp.json())["verdict"] == "checked_in"
                undone = scenario.scan(cards[11], f"{scenario.event_id}-desk")
                resp = await gateway.post("/api/v1/scans", json=undone,
                                          headers={"Authorization": f"Bearer {tokens['desk']}"})
                assert (await resp.json())["verdict"] == "checked_in"
                resp = await gateway.post(f"/api/v1/scans/{undone['scan_id']}/annul", json={"reason": "誤刷"},
                                          headers={"Authorization": f"Bearer {tokens['desk']}"})
                assert resp.status == 200, await resp.text()
                total = 3 + 8 + 3 + 1 + 1 + 2 + 2 + 1

                # Stored, and then really past the trim window: the stream no longer holds any of it.
                deadline = asyncio.get_running_loop().time() + 20
                while await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1",
                                             scenario.event_id) < total:
                    assert asyncio.get_running_loop().time() < deadline, "the recorder did not store every scan"
                    await asyncio.sleep(0.1)
                while await redis_client.xlen(ev.stream):
                    assert asyncio.get_running_loop().time() < deadline, "the recorder did not trim the stream"
                    await asyncio.sleep(0.2)

                expected = await assert_true_to_postgres(gateway, first_live, scenario, pg_pool,
                                                         "following the stream")
        # The figures this test is about are all there to be compared.
        assert expected["totals"]["checked_in_total"] == 13 and expected["totals"]["checked_out_today"] >= 2
        assert expected["totals"]["duplicates_today"] == 3 and expected["totals"]["rejected_today"] == 2
        assert expected["totals"]["on_site"] == 9  # 19, 2-9 and not 11, whose check-in was annulled
        assert len(expected["gates"]) == 3 and expected["missing"]

        # Every process restarted: a new live server and a new gateway build their pictures from Redis alone.
        restarted = await aiohttp_client(create_app(test_config))
        async with live_server(test_config, pg_pool, redis_client) as url:
            await assert_true_to_postgres(restarted, url, scenario, pg_pool, "after restarts")

        # Redis loses the event: rebuilt from the scans table (the stream is empty by now anyway).
        await redis_client.delete(*ev.all_state())
        async with pg_pool.acquire() as conn:
            assert scenario.event_id in await ensure_loaded(conn, redis_client, keys)
        rebuilt = await aiohttp_client(create_app(test_config))
        async with live_server(test_config, pg_pool, redis_client) as url:
            await assert_true_to_postgres(rebuilt, url, scenario, pg_pool, "after a rebuild from Postgres")
    finally:
        recorder.stop()
        await asyncio.wait_for(recording, 5)


async def test_the_script_its_python_twin_and_the_rebuild_count_alike(gateway, recorder, scenario: Scenario,
                                                                      pg_pool: asyncpg.Pool,
                                                                      redis_client: aioredis.Redis, keys: Keys) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    desk = f"{scenario.event_id}-desk"
    cards = [card for _, card in scenario.cards]
    now = datetime.now(UTC)
    scans = [scenario.scan(cards[i], desk, now - timedelta(hours=30) + timedelta(minutes=i)) for i in range(4)]
    scans += [scenario.scan(cards[i], desk, now - timedelta(hours=3, minutes=i)) for i in range(6)]  # some leave
    scans += [scenario.scan(cards[5], desk, now - timedelta(hours=3, minutes=5, seconds=-20)),  # a double scan
              scenario.scan(cards[6][:-2] + "xx", desk, now - timedelta(minutes=1))]  # a forged card
    resp = await gateway.post("/api/v1/scans/batch", json={"scans": scans}, headers=auth)
    verdicts = [r["verdict"] for r in (await resp.json())["results"]]
    assert {"checked_in", "checked_out", "duplicate", "rejected"} <= set(verdicts)
    resp = await gateway.post(f"/api/v1/scans/{scans[-3]['scan_id']}/annul", json={"reason": "誤刷"},
                              headers={"Authorization": f"Bearer {scenario.coordinator_token}"})
    assert resp.status == 200, await resp.text()
    deadline = asyncio.get_running_loop().time() + 10
    while await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id) < len(scans):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)

    ev = keys.event(scenario.event_id)
    kept = {k.decode(): int(v) for k, v in (await redis_client.hgetall(ev.counts)).items() if b"@" in k}
    offset = int(await redis_client.hget(ev.meta, "svc_off_ms") or 0)
    replayed: dict[str, int] = {}
    for _, fields in await redis_client.xrange(ev.stream):
        apply_entry(replayed, fields, offset)
    assert {k: v for k, v in replayed.items() if "@" in k} == kept
    async with pg_pool.acquire() as conn:
        event = await conn.fetchrow("SELECT * FROM events WHERE event_id = $1", scenario.event_id)
        assert service_offset(event) == offset
        assert await day_counts(conn, scenario.event_id, offset) == kept
    # A gate's latest scan on each service day the scans fall on (two or three, by the time of day this runs).
    latest: dict[int, int] = {}
    for scan in scans:
        at_ms = int(datetime.fromisoformat(scan["scanned_at"]).timestamp() * 1000)
        day = hour_of(at_ms, offset) // 24
        latest[day] = max(latest.get(day, 0), at_ms)
    assert len(latest) >= 2
    assert {k: v for k, v in kept.items() if k.startswith("gat@")} == {
        gate_field("gat", day, desk): at_ms for day, at_ms in latest.items()}
