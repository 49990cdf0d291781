"""The console's event setup routes (checkin/gateway/console.py): admin only, every refusal names its field, the
plan downloaded and uploaded again is the same plan, a bad plan writes nothing, every change is audited."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import orjson
from aiohttp.test_utils import TestClient

from checkin.access.accounts import add_user
from checkin.access.operations import add_team_lead
from checkin.cli.plan import EXAMPLE_PLAN
from loadtest.event_factory import Scenario


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def admin(pg_pool: asyncpg.Pool) -> tuple[str, dict[str, str]]:
    async with pg_pool.acquire() as conn:
        user_id, token = await add_user(conn, "主控台管理員", "admin", None)
    return user_id, bearer(token)


async def new_event(gateway: TestClient, auth: dict[str, str], **fields: Any) -> str:
    event_id = fields.pop("id", f"con-{secrets.token_hex(4)}")
    body = {"id": event_id, "name": "測試活動", "starts_on": "2024-02-24", "ends_on": "2024-02-25",
            "tz": "Asia/Taipei", **fields}
    resp = await gateway.post("/api/v1/events", json=body, headers=auth)
    assert resp.status == 201, await resp.text()
    return event_id


async def refusal(resp: Any, status: int = 400) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_an_admin_sets_an_event_up_and_each_change_is_audited(gateway: TestClient, pg_pool: asyncpg.Pool) -> None:
    user_id, auth = await admin(pg_pool)
    ev = await new_event(gateway, auth)
    listed = await (await gateway.get("/api/v1/events", headers=auth)).json()
    assert {"id": ev, "status": "draft"}.items() <= next(e for e in listed["events"] if e["id"] == ev).items()

    for zone in ("north", "south"):
        resp = await gateway.put(f"/api/v1/events/{ev}/zones/{ev}-{zone}", json={"name": f"{zone} 區"}, headers=auth)
        assert resp.status == 200, await resp.text()
    resp = await gateway.put(f"/api/v1/events/{ev}/gates/{ev}-n1", headers=auth,
                             json={"zone_id": f"{ev}-north", "name": "北門", "mode": "entry"})
    assert resp.status == 200, await resp.text()
    # A datetime-local value (no offset) is the event's own time.
    resp = await gateway.put(f"/api/v1/events/{ev}/shifts/{ev}-am", headers=auth,
                             json={"zone_id": f"{ev}-north", "name": "早班", "starts_at": "2024-02-24T09:00",
                                   "ends_at": "2024-02-24T13:00", "required": 4})
    assert resp.status == 200, await resp.text()
    shift = await pg_pool.fetchrow("SELECT starts_at, required FROM shifts WHERE shift_id = $1", f"{ev}-am")
    assert shift["starts_at"].isoformat() == "2024-02-24T01:00:00+00:00" and shift["required"] == 4

    setup = await (await gateway.get(f"/api/v1/events/{ev}", headers=auth)).json()
    assert setup["policy"]["debounce_s"] == setup["defaults"]["debounce_s"] == 60
    policy = {**setup["policy"], "debounce_s": 90, "hours": {**setup["policy"]["hours"], "day_starts_hour": 5}}
    resp = await gateway.put(f"/api/v1/events/{ev}", json={"name": "改名的活動", "policy": policy}, headers=auth)
    assert resp.status == 200, await resp.text()
    row = await pg_pool.fetchrow("SELECT name, policy FROM events WHERE event_id = $1", ev)
    stored = orjson.loads(row["policy"])
    assert (row["name"], stored["debounce_s"], stored["hours"]["day_starts_hour"]) == ("改名的活動", 90, 5)

    resp = await gateway.post(f"/api/v1/events/{ev}/open", headers=auth)
    assert resp.status == 200 and (await resp.json())["status"] == "open"
    assert await pg_pool.fetchval("SELECT status FROM events WHERE event_id = $1", ev) == "open"

    actions = [(r["actor"], r["action"]) for r in await pg_pool.fetch(
        "SELECT actor, action FROM audit_log WHERE event_id = $1 ORDER BY audit_id", ev)]
    assert actions == [(user_id, a) for a in ("event_create", "zone_save", "zone_save", "gate_save", "shift_save",
                                              "event_update", "event_open")]


async def test_refusals_name_the_field(gateway: TestClient, pg_pool: asyncpg.Pool) -> None:
    _, auth = await admin(pg_pool)
    body = await refusal(await gateway.post("/api/v1/events", headers=auth, json={
        "id": "bad id!", "name": "x", "starts_on": "2024-02-24", "ends_on": "2024-02-25"}))
    assert (body["error"], body["field"]) == ("invalid_plan", "id")
    body = await refusal(await gateway.post("/api/v1/events", headers=auth, json={
        "id": f"con-{secrets.token_hex(4)}", "name": "x", "starts_on": "2024-02-24", "ends_on": "2024-02-20",
        "tz": "Mars/Olympus"}))
    assert {p["field"] for p in body["problems"]} == {"ends_on", "tz"}

    ev = await new_event(gateway, auth)
    assert (await refusal(await gateway.post("/api/v1/events", headers=auth, json={
        "id": ev, "name": "x", "starts_on": "2024-02-24", "ends_on": "2024-02-25"}), 409))["field"] == "id"
    await gateway.put(f"/api/v1/events/{ev}/zones/{ev}-z", json={"name": "區"}, headers=auth)
    body = await refusal(await gateway.put(f"/api/v1/events/{ev}/gates/{ev}-g", headers=auth,
                                           json={"zone_id": f"{ev}-z", "name": "門", "mode": "sideways"}))
    assert body["field"] == "mode"
    body = await refusal(await gateway.put(f"/api/v1/events/{ev}/gates/{ev}-g", headers=auth,
                                           json={"zone_id": "nowhere", "name": "門"}))
    assert body["field"] == "zone_id"
    body = await refusal(await gateway.put(f"/api/v1/events/{ev}/shifts/{ev}-s", headers=auth, json={
        "zone_id": f"{ev}-z", "name": "班", "starts_at": "2024-02-24T13:00", "ends_at": "2024-02-24T09:00",
        "required": -1}))
    assert {p["field"] for p in body["problems"]} == {"ends_at", "required"}
    body = await refusal(await gateway.put(f"/api/v1/events/{ev}", headers=auth,
                                           json={"policy": {"debounce_s": -5, "hours": {"day_starts_hour": 30}}}))
    assert {p["field"] for p in body["problems"]} == {"policy.debounce_s", "policy.hours.day_starts_hour"}
    assert await pg_pool.fetchval("SELECT count(*) FROM gates WHERE event_id = $1", ev) == 0
    assert await pg_pool.fetchval("SELECT count(*) FROM shifts WHERE event_id = $1", ev) == 0
    assert orjson.loads(await pg_pool.fetchval("SELECT policy FROM events WHERE event_id = $1", ev))["debounce_s"] == 60


async def test_only_an_admin_may(gateway: TestClient, pg_pool: asyncpg.Pool, scenario: Scenario) -> None:
    ev = scenario.event_id
    team = await pg_pool.fetchval("SELECT v.team_id FROM assignments a JOIN volunteers v USING (volunteer_id)"
                                  " WHERE a.event_id = $1 AND v.team_id IS NOT NULL LIMIT 1", ev)
    async with pg_pool.acquire() as conn:
        _, lead = await add_team_lead(conn, "隊長", ev, team)
    calls = [("GET", "/api/v1/events"), ("POST", "/api/v1/events"), ("GET", f"/api/v1/events/{ev}"),
             ("PUT", f"/api/v1/events/{ev}"), ("POST", f"/api/v1/events/{ev}/open"),
             ("POST", f"/api/v1/events/{ev}/close"), ("GET", f"/api/v1/events/{ev}/plan"),
             ("PUT", f"/api/v1/events/{ev}/plan"), ("PUT", f"/api/v1/events/{ev}/zones/z"),
             ("PUT", f"/api/v1/events/{ev}/gates/g"), ("PUT", f"/api/v1/events/{ev}/shifts/s")]
    for token in (scenario.coordinator_token, lead):
        for method, path in calls:
            resp = await gateway.request(method, path, headers=bearer(token), json={"name": "x"})
            assert resp.status == 403, (method, path, await resp.text())
            assert (await resp.json())["error"] == "forbidden"
    for method, path in calls:
        assert (await gateway.request(method, path, json={})).status == 401
    assert await pg_pool.fetchval("SELECT status FROM events WHERE event_id = $1", ev) == "open"


async def test_the_plan_round_trip_and_a_bad_plan_writes_nothing(gateway: TestClient, pg_pool: asyncpg.Pool,
                                                                 scenario: Scenario) -> None:
    user_id, auth = await admin(pg_pool)
    ev = scenario.event_id  # an open event with a roster and assignments
    resp = await gateway.get(f"/api/v1/events/{ev}/plan", headers=auth)
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    first = await resp.read()
    plan = orjson.loads(first)
    assert plan["assignments"] and plan["gates"]

    resp = await gateway.put(f"/api/v1/events/{ev}/plan", json={"text": first.decode()}, headers=auth)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert report["changes"] == [] and report["event"] == "unchanged" and report["assigned"] == 0
    assert await (await gateway.get(f"/api/v1/events/{ev}/plan", headers=auth)).read() == first

    # A plan with problems: every one listed with its path, nothing written (the good change beside them too).
    bad = {**plan, "event": {**plan["event"], "name": "不該寫入"},
           "gates": [{**plan["gates"][0], "mode": "sideways"}, *plan["gates"][1:]],
           "shifts": [{**plan["shifts"][0], "zone_id": "nowhere"}, *plan["shifts"][1:]]}
    body = await refusal(await gateway.put(f"/api/v1/events/{ev}/plan", headers=auth,
                                           json={"text": orjson.dumps(bad).decode()}))
    assert {p["path"] for p in body["problems"]} == {"gates[0].mode", "shifts[0].zone_id"}
    assert {p["message_zh"] for p in body["problems"]} == {"'sideways' 不是 entry、exit、auto 其中之一",
                                                          "沒有分區 'nowhere'"}
    # A plan that is right in itself but names a volunteer nobody knows: refused by the import's own check.
    unknown = {**plan, "event": {**plan["event"], "name": "不該寫入"},
               "assignments": {plan["shifts"][0]["id"]: ["V-nobody"]}}
    body = await refusal(await gateway.put(f"/api/v1/events/{ev}/plan", headers=auth,
                                           json={"text": orjson.dumps(unknown).decode()}))
    assert [p["path"] for p in body["problems"]] == [f"assignments.{plan['shifts'][0]['id']}[0]"]
    # Another event's plan, and a file that is not JSON.
    assert (await refusal(await gateway.put(f"/api/v1/events/{ev}/plan", headers=auth,
                                            json={"text": EXAMPLE_PLAN})))["field"] == "event.id"
    assert (await refusal(await gateway.put(f"/api/v1/events/{ev}/plan", headers=auth,
                                            json={"text": "{not json"})))["problems"][0]["path"] == ""
    assert await (await gateway.get(f"/api/v1/events/{ev}/plan", headers=auth)).read() == first
    assert await pg_pool.fetchval("SELECT count(*) FROM audit_log WHERE event_id = $1 AND actor = $2",
                                  ev, user_id) == 0

    # The commented example, made this event's, is taken as `checkin plan import` takes it.
    example = EXAMPLE_PLAN.replace('"id": "lantern2024"', f'"id": "{ev}"').replace('"V000001", "V000002"', "") \
        .replace('"V000003"', "")
    resp = await gateway.put(f"/api/v1/events/{ev}/plan", json={"text": example}, headers=auth)
    assert resp.status == 200, await resp.text()
    assert await pg_pool.fetchval("SELECT name FROM events WHERE event_id = $1", ev) == "2024 台灣燈會"
    assert await pg_pool.fetchval("SELECT action FROM audit_log WHERE event_id = $1 AND actor = $2",
                                  ev, user_id) == "plan_upload"
