"""The team leads' page's list of their team (GET .../team-members) against real Postgres and Redis: their own
members with presence, and nothing of another team or another event."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from checkin.access.operations import add_team_lead
from checkin.keys import Keys
from loadtest.event_factory import Scenario, make_event


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def team_of(sc: Scenario) -> str:
    return "T-" + sc.event_id.removeprefix("ev-")


async def test_a_team_lead_lists_their_own_team_only(gateway: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                     redis_client: aioredis.Redis, keys: Keys) -> None:
    sc = scenario
    other_team = team_of(sc) + "-b"
    moved = sc.cards[5][0]
    async with pg_pool.acquire() as conn:
        await conn.execute("INSERT INTO teams (team_id, name) VALUES ($1, '第二隊')", other_team)
        await conn.execute("UPDATE volunteers SET team_id = $2 WHERE volunteer_id = $1", moved, other_team)
        _, lead = await add_team_lead(conn, "隊長", sc.event_id, team_of(sc))
        elsewhere = await make_event(conn, redis_client, keys, volunteers=1)
    gate = f"{sc.event_id}-desk"
    assert (await gateway.post("/api/v1/scans", json=sc.scan(sc.cards[0][1], gate), headers=sc.auth(gate))).status == 200

    url = f"/api/v1/events/{sc.event_id}/team-members"
    resp = await gateway.get(url, headers=bearer(lead))
    assert resp.status == 200, await resp.text()
    listed = await resp.json()
    expected = await pg_pool.fetch("SELECT v.volunteer_id FROM volunteers v JOIN assignments a USING (volunteer_id)"
                                   " WHERE a.event_id = $1 AND v.team_id = $2 ORDER BY v.name", sc.event_id, team_of(sc))
    assert [m["volunteer_id"] for m in listed["members"]] == [r["volunteer_id"] for r in expected]
    assert moved not in {m["volunteer_id"] for m in listed["members"]}
    assert {m["volunteer_id"]: m["on_site"] for m in listed["members"]}[sc.cards[0][0]] is True
    assert sum(m["on_site"] for m in listed["members"]) == 1 and all(m["has_card"] for m in listed["members"])
    assert (listed["team_id"], listed["team"], listed["role"]) == (team_of(sc), "測試志工隊", "team_lead")

    # another team of the same event, another event, and the other team's report and group check-in
    assert (await gateway.get(url, params={"team_id": other_team}, headers=bearer(lead))).status == 403
    assert (await gateway.get(f"/api/v1/events/{elsewhere.event_id}/team-members", headers=bearer(lead))).status == 403
    assert (await gateway.get(f"/api/v1/events/{sc.event_id}/teams/{other_team}/report", headers=bearer(lead))).status == 403
    resp = await gateway.post(f"/api/v1/events/{sc.event_id}/group-checkin", headers=bearer(lead),
                              json={"gate_id": gate, "volunteer_ids": [moved]})
    assert (await resp.json())["results"] == [{"volunteer_id": moved, "error": "not_your_team"}]

    # a coordinator names the team; a kiosk has no say
    resp = await gateway.get(url, params={"team_id": other_team}, headers=bearer(sc.coordinator_token))
    assert resp.status == 200 and [m["volunteer_id"] for m in (await resp.json())["members"]] == [moved]
    resp = await gateway.get(url, headers=bearer(sc.coordinator_token))
    assert resp.status == 400 and (await resp.json())["field"] == "team_id"
    resp = await gateway.get(url, params={"team_id": team_of(elsewhere)}, headers=bearer(sc.coordinator_token))
    assert resp.status == 404
    assert (await gateway.get(url, headers=bearer(sc.device_token))).status == 401
