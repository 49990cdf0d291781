"""The data-side findings of the security review (issue 17), one test each, through the real gateway:
no phone-number oracle, bad input gets a 4xx naming its field (never a 500 or a 503), office dates stay
near the event's, and a team report tells nothing of another event's teams."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from checkin.access.enrollment import create_code
from checkin.access.operations import add_team_lead
from checkin.gateway import enroll
from checkin.keys import Keys
from loadtest.event_factory import Scenario, make_event
from tests.integration.test_office_api import Office, bearer, make_office


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)


async def _found(gateway: TestClient, sc: Scenario, q: str, token: str) -> list[str]:
    resp = await gateway.get(f"/api/v1/events/{sc.event_id}/roster/search", params={"q": q}, headers=bearer(token))
    assert resp.status == 200, await resp.text()
    return [r["volunteer_id"] for r in (await resp.json())["results"]]


async def test_a_phone_search_reveals_no_more_than_the_last_six_digits(
        gateway: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    vid = sc.cards[1][0]
    await pg_pool.execute("UPDATE volunteers SET phone = '0912-345-678' WHERE volunteer_id = $1", vid)
    async with pg_pool.acquire() as conn:
        _, lead = await add_team_lead(conn, "隊長", sc.event_id, f"T-{sc.event_id.removeprefix('ev-')}")
    for token in (lead, sc.coordinator_token):
        # Growing a suffix one digit at a time finds nobody until six digits are right...
        for q in ("678", "5678", "45678"):  # (shorter ones would also match names such as 志工008號)
            assert await _found(gateway, sc, q, token) == [], q
        assert await _found(gateway, sc, "345678", token) == [vid]
        assert await _found(gateway, sc, "0912345678", token) == [vid]
        # ...and past six digits every guess matches alike: a search cannot tell a right seventh digit from a wrong one.
        assert await _found(gateway, sc, "2345678", token) == await _found(gateway, sc, "9345678", token) == [vid]


async def test_a_list_for_the_manual_scan_action_is_a_400(gateway: TestClient, scenario: Scenario) -> None:
    sc = scenario
    for action in ([], {}, 5, None):
        resp = await gateway.post(f"/api/v1/events/{sc.event_id}/manual-scans", headers=bearer(sc.coordinator_token),
                                  json={"volunteer_id": sc.cards[0][0], "gate_id": f"{sc.event_id}-desk",
                                        "action": action})
        assert resp.status == 400, (action, await resp.text())
        assert (await resp.json())["field"] == "action"


@pytest.mark.parametrize("start,end,field", [
    ("0001-01-01T00:00", "2024-02-24T10:00", "start"),  # was an OverflowError: a 500
    ("2024-02-24T09:00", "9999-12-31T23:59", "end"),  # was stored with service_day=infinity
    ("9999-12-31T09:00", "9999-12-31T10:30", "start"),
    ("0001-01-01T00:00+14:00", "0001-01-01T01:00-12:00", "start"),
    ("2024-01-20T09:00", "2024-01-20T10:00", "start"),  # a month before the event: a typing mistake
])
async def test_a_correction_dated_far_from_the_event_is_a_400_and_stores_nothing(
        gateway: TestClient, office: Office, pg_pool: asyncpg.Pool, start: str, end: str, field: str) -> None:
    o = office
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/corrections", headers=o.admin, json={
        "volunteer_id": o.ids[0], "action": "add", "start": start, "end": end, "reason": "紙本簽到"})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["field"] == field
    assert await pg_pool.fetchval("SELECT count(*) FROM corrections WHERE event_id = $1", o.ev.event_id) == 0
    # a day within the margin around the event is a set-up day, and is taken
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/corrections", headers=o.admin, json={
        "volunteer_id": o.ids[0], "action": "add", "start": "2024-02-20T09:00", "end": "2024-02-20T10:30",
        "reason": "佈置"})
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "2024-01-01"])
async def test_an_approval_or_acceptance_far_from_the_event_is_a_400(
        gateway: TestClient, office: Office, pg_pool: asyncpg.Pool, day: str) -> None:
    o = office
    url = f"/api/v1/events/{o.ev.event_id}"
    resp = await gateway.post(url + "/approvals", headers=o.coordinator, json={"team_id": o.team_id, "day": day})
    assert resp.status == 400 and (await resp.json())["field"] == "day", await resp.text()
    resp = await gateway.post(url + "/acceptances", headers=o.admin,
                              json={"volunteer_id": o.ids[0], "day": day, "reason": "證明後補"})
    assert resp.status == 400 and (await resp.json())["field"] == "day", await resp.text()
    assert await pg_pool.fetchval("SELECT count(*) FROM approvals WHERE event_id = $1", o.ev.event_id) == 0
    assert await pg_pool.fetchval("SELECT count(*) FROM acceptances WHERE event_id = $1", o.ev.event_id) == 0


async def test_a_nul_anywhere_is_a_400_naming_the_field(gateway: TestClient, office: Office) -> None:
    o = office
    sc = o.ev
    url = f"/api/v1/events/{sc.event_id}"
    coordinator = bearer(sc.coordinator_token)
    cases = [
        ("GET", f"{url}/roster/search?q=%E9%99%B3%00", None, "q"),
        ("GET", f"{url}/teams/T%00x/report", None, "team_id"),
        ("GET", f"{url}/hours?team_id=T%00", None, "team_id"),
        ("GET", f"{url}/volunteers/V%00/timeline", None, "volunteer_id"),
        ("POST", f"{url}/manual-scans", {"volunteer_id": "V\x00", "gate_id": f"{sc.event_id}-desk"}, "volunteer_id"),
        ("POST", f"{url}/manual-scans", {"volunteer_id": o.ids[0], "gate_id": "g\x00"}, "gate_id"),
        ("POST", f"{url}/group-checkin", {"gate_id": f"{sc.event_id}-desk", "volunteer_ids": [o.ids[0], "V\x00"]},
         "volunteer_ids[1]"),
        ("POST", f"{url}/approvals", {"team_id": "T\x00", "day": "2024-02-24"}, "team_id"),
        ("POST", f"{url}/corrections", {"volunteer_id": o.ids[0], "action": "add", "start": "2024-02-24T09:00",
                                        "end": "2024-02-24T10:00", "reason": "紙\x00本"}, "reason"),
        ("POST", "/api/v1/scans", {"scan_id": "x", "card": "c", "gate_id": "g\x00", "seq": 1}, "gate_id"),
    ]
    for method, path, body, field in cases:
        resp = await gateway.request(method, path, json=body, headers=coordinator)
        assert resp.status == 400, (path, body, resp.status, await resp.text())
        assert (await resp.json())["field"] == field, (path, body)


async def test_a_team_report_tells_nothing_of_another_events_team(
        gateway: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
        keys: Keys) -> None:
    async with pg_pool.acquire() as conn:
        other = await make_event(conn, redis_client, keys, volunteers=1)
        await conn.execute("UPDATE teams SET name = '別的志工隊' WHERE team_id = $1",
                           f"T-{other.event_id.removeprefix('ev-')}")
    url = f"/api/v1/events/{scenario.event_id}/teams/T-{other.event_id.removeprefix('ev-')}/report"
    resp = await gateway.get(url, headers=bearer(scenario.coordinator_token))
    text = await resp.text()
    assert resp.status == 404 and "別的志工隊" not in text and "測試運用單位" not in text
    own = f"/api/v1/events/{scenario.event_id}/teams/T-{scenario.event_id.removeprefix('ev-')}/report"
    assert (await gateway.get(own, headers=bearer(scenario.coordinator_token))).status == 200


async def test_the_database_refuses_an_infinite_office_date(office: Office, pg_pool: asyncpg.Pool) -> None:
    """Whatever writes them (an older gateway, a script): no day of the office's is 'infinity'."""
    o = office
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute("INSERT INTO approvals (event_id, team_id, service_day, approved_by)"
                              " VALUES ($1, $2, 'infinity', 'someone')", o.ev.event_id, o.team_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute("INSERT INTO acceptances (event_id, volunteer_id, day, reason, actor)"
                              " VALUES ($1, $2, 'infinity', 'r', 'someone')", o.ev.event_id, o.ids[0])
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute(
            "INSERT INTO corrections (correction_id, event_id, volunteer_id, action, start_at, end_at, service_day,"
            " reason, actor, at) VALUES ('c1', $1, $2, 'add', '2024-02-24 09:00+08', 'infinity', '2024-02-24',"
            " 'r', 'someone', now())", o.ev.event_id, o.ids[0])


async def test_a_guessed_enrollment_code_costs_no_pin_hashing(
        gateway: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashing a PIN takes about 0.15 s of CPU; anyone may post a made-up code with a PIN."""
    hashed: list[str] = []
    real = enroll.hash_pin
    monkeypatch.setattr(enroll, "hash_pin", lambda pin: hashed.append(pin) or real(pin))
    for n in range(5):
        resp = await gateway.post("/api/v1/enroll", json={"code": f"guessed-code-{n:04d}", "pin": "2468"})
        assert resp.status == 404 and (await resp.json())["error"] == "unknown_code"
    assert hashed == []
    async with pg_pool.acquire() as conn:
        code = await create_code(conn, scenario.event_id, f"{scenario.event_id}-in")
    resp = await gateway.post("/api/v1/enroll", json={"code": code, "pin": "2468"})
    assert resp.status == 201, await resp.text()
    assert hashed == ["2468"]
    token = (await resp.json())["device_token"]
    check = await gateway.post("/api/v1/device/pin-check", json={"pin": "2468"}, headers=bearer(token))
    assert (await check.json()) == {"ok": True, "pin_set": True}
