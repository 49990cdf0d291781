"""Gate operations through the public API: roster search, manual and group check-in, annulling a scan,
rest-limit warnings, team reports and the kiosk PIN, with their refusals."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

import checkin.cli.admin as admin
from checkin.access.enrollment import create_code
from checkin.access.operations import add_team_lead, pin_matches
from checkin.cards.store import revoke_card
from checkin.cli.main import build_parser
from checkin.config import Config
from checkin.gateway.app import create_app
from checkin.hours.derive import service_day
from checkin.keys import Keys
from checkin.reconcile.store import load_policy
from checkin.scan.rules import Policy
from loadtest.event_factory import Scenario, make_event

NOW_POLICY = Policy(debounce_s=0)


async def wait_for(probe, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _event(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, policy: Policy = NOW_POLICY,
                 undo_window_min: int | None = None) -> Scenario:
    async with pg_pool.acquire() as conn:
        sc = await make_event(conn, redis_client, keys, volunteers=6, policy=policy)
        if undo_window_min is not None:
            await conn.execute("UPDATE events SET policy = policy || jsonb_build_object('undo_window_min', $2::int)"
                               " WHERE event_id = $1", sc.event_id, undo_window_min)
    return sc


@pytest.fixture
async def ops_event(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys) -> Scenario:
    return await _event(pg_pool, redis_client, keys)


@pytest.fixture
async def client(aiohttp_client, test_config: Config, ops_event: Scenario) -> TestClient:  # type: ignore[no-untyped-def]
    # after an event exists: the gateway reads the card signing keys when it starts
    return await aiohttp_client(create_app(test_config))


async def _headcount(client: TestClient, sc: Scenario) -> int:
    resp = await client.get(f"/api/v1/events/{sc.event_id}/headcount", headers=bearer(sc.coordinator_token))
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["view"]["totals"]["on_site"])


async def _manual(client: TestClient, sc: Scenario, vid: str, action: str, token: str | None = None):  # type: ignore[no-untyped-def]
    return await client.post(f"/api/v1/events/{sc.event_id}/manual-scans", headers=bearer(token or sc.coordinator_token),
                             json={"volunteer_id": vid, "gate_id": f"{sc.event_id}-desk", "action": action})


# --- roster search -----------------------------------------------------------------------------

async def test_search_by_name_phone_tail_and_record_book(client: TestClient, ops_event: Scenario,
                                                         pg_pool: asyncpg.Pool) -> None:
    sc = ops_event
    vid = sc.cards[1][0]
    await pg_pool.execute("UPDATE volunteers SET phone = '0912-345-678', record_book_no = $2 WHERE volunteer_id = $1",
                          vid, f"RB-{vid}")
    url = f"/api/v1/events/{sc.event_id}/roster/search"
    for q in ("志工001", "345678", f"RB-{vid}", vid):
        resp = await client.get(url, params={"q": q}, headers=bearer(sc.coordinator_token))
        assert resp.status == 200, await resp.text()
        results = (await resp.json())["results"]
        assert [r["volunteer_id"] for r in results] == [vid], q
    found = results[0]
    assert found["phone_tail"] == "678" and "0912-345" not in str(found)  # never the whole number
    assert found["has_card"] and found["on_site"] is False
    resp = await client.get(url, params={"q": "%"}, headers=bearer(sc.coordinator_token))
    assert (await resp.json())["results"] == []  # LIKE wildcards are text, not patterns


async def test_kiosk_token_cannot_search_the_roster(client: TestClient, ops_event: Scenario,
                                                    pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                    keys: Keys) -> None:
    url = f"/api/v1/events/{ops_event.event_id}/roster/search"
    resp = await client.get(url, params={"q": "志工"}, headers=bearer(ops_event.device_token))
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"
    assert (await client.get(url, params={"q": "志工"})).status == 401
    other = await _event(pg_pool, redis_client, keys)
    resp = await client.get(url, params={"q": "志工"}, headers=bearer(other.coordinator_token))
    assert resp.status == 403
    resp = await client.get(url, params={"q": ""}, headers=bearer(ops_event.coordinator_token))
    assert resp.status == 400 and (await resp.json())["field"] == "q"


# --- manual check-in -----------------------------------------------------------------------------

async def test_manual_checkin_and_out_through_the_same_rules(client: TestClient, recorder, ops_event: Scenario,  # type: ignore[no-untyped-def]
                                                           pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                           keys: Keys) -> None:
    sc = ops_event
    vid = sc.cards[0][0]
    first = await _manual(client, sc, vid, "in")
    assert first.status == 200, await first.text()
    body = await first.json()
    assert (body["verdict"], body["source"], body["on_site"]) == ("checked_in", "manual", 1)
    operator = body["operator"]
    again = await (await _manual(client, sc, vid, "in")).json()
    assert (again["verdict"], again["reason"]) == ("duplicate", "already_on_site")  # the same rules as a card
    out = await (await _manual(client, sc, vid, "out")).json()
    assert (out["verdict"], out["on_site"]) == ("checked_out", 0)

    entries = await redis_client.xrange(keys.event(sc.event_id).stream)
    mine = [f for _, f in entries if f[b"src"] == b"manual"]
    assert len(mine) == 3
    assert {f[b"op"] for f in mine} == {operator.encode()}
    assert {f[b"dev"] for f in mine} == {b"M" + operator.encode()}
    assert [int(f[b"seq"]) for f in mine] == [1, 2, 3]  # the coordinator's own sequence
    row = await wait_for(lambda: pg_pool.fetchrow("SELECT verdict, source, operator FROM scans WHERE scan_id = $1",
                                                  uuid.UUID(body["scan_id"])))
    assert (row["verdict"], row["source"], row["operator"]) == ("checked_in", "manual", operator)


async def test_manual_scan_refusals(client: TestClient, ops_event: Scenario, pg_pool: asyncpg.Pool) -> None:
    sc = ops_event
    resp = await _manual(client, sc, sc.cards[0][0], "in", token=sc.device_token)
    assert resp.status == 401  # a kiosk cannot scan on anyone's behalf
    resp = await _manual(client, sc, "V-nobody", "in")
    assert resp.status == 404 and (await resp.json())["error"] == "not_on_roster"
    resp = await _manual(client, sc, sc.cards[0][0], "sideways")
    assert resp.status == 400 and (await resp.json())["field"] == "action"
    resp = await client.post(f"/api/v1/events/{sc.event_id}/manual-scans", headers=bearer(sc.coordinator_token),
                             json={"volunteer_id": sc.cards[0][0], "gate_id": "elsewhere"})
    assert resp.status == 400 and (await resp.json())["error"] == "unknown_gate"
    await pg_pool.execute("UPDATE cards SET status = 'revoked', revoked_at = now() WHERE volunteer_id = $1",
                          sc.cards[2][0])
    resp = await _manual(client, sc, sc.cards[2][0], "in")
    assert resp.status == 409 and (await resp.json())["error"] == "no_active_card"
    assert (await resp.json())["field"] == "reason"  # it can go ahead by hand, with a reason


async def test_the_desk_says_why_a_card_fails_and_checks_in_by_hand_with_a_reason(
        client: TestClient, recorder, ops_event: Scenario, pg_pool: asyncpg.Pool,  # type: ignore[no-untyped-def]
        redis_client: aioredis.Redis, keys: Keys) -> None:
    sc = ops_event
    vid, card = sc.cards[3]
    async with pg_pool.acquire() as conn:
        card_id = await conn.fetchval("SELECT card_id FROM cards WHERE volunteer_id = $1", vid)
        await revoke_card(conn, redis_client, keys, card_id, "遺失")
    resp = await client.get(f"/api/v1/events/{sc.event_id}/roster/search", params={"q": vid},
                            headers=bearer(sc.coordinator_token))
    (found,) = (await resp.json())["results"]
    assert found["has_card"] is False
    assert (found["card"]["status"], found["card"]["reason"]) == ("revoked", "遺失") and found["card"]["revoked_at"]

    resp = await _manual(client, sc, vid, "in")
    body = await resp.json()
    assert resp.status == 409 and body["field"] == "reason" and "revoked (遺失)" in body["message"]
    resp = await client.post(f"/api/v1/events/{sc.event_id}/manual-scans", headers=bearer(sc.coordinator_token),
                             json={"volunteer_id": vid, "gate_id": f"{sc.event_id}-desk", "action": "in",
                                   "reason": "證件遺失，經隊長確認身分"})
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert (answer["verdict"], answer["source"], answer["on_site"]) == ("checked_in", "manual", 1)
    assert answer["manual_reason"] == "證件遺失，經隊長確認身分" and answer["card"]["status"] == "revoked"

    row = await wait_for(lambda: pg_pool.fetchrow("SELECT * FROM scans WHERE scan_id = $1",
                                                  uuid.UUID(answer["scan_id"])))
    assert (row["volunteer_id"], row["card_id"], row["source"], row["verdict"]) == (vid, None, "manual", "checked_in")
    audit = await pg_pool.fetchrow("SELECT actor, subject, detail::text FROM audit_log"
                                   " WHERE action = 'manual_scan_without_card' AND event_id = $1", sc.event_id)
    assert audit["subject"] == vid and answer["scan_id"] in audit["detail"] and "經隊長確認身分" in audit["detail"]
    assert audit["actor"] == row["operator"]

    # The lost card itself still gets nowhere at a gate, and the volunteer stays on site.
    resp = await client.post("/api/v1/scans", json=sc.scan(card, f"{sc.event_id}-desk"), headers=sc.auth(f"{sc.event_id}-desk"))
    assert ((await resp.json())["verdict"], (await resp.json())["reason"]) == ("rejected", "revoked")
    assert await _headcount(client, sc) == 1


# --- group check-in and team reports ----------------------------------------------------------------

async def test_user_add_makes_a_team_lead_of_a_team_at_the_event(ops_event: Scenario, pg_pool: asyncpg.Pool,
                                                                  test_config: Config,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    sc = ops_event
    team_id = "T-" + sc.event_id.removeprefix("ev-")

    def parsed(*extra: str) -> argparse.Namespace:  # through the CLI's own argument parsing
        return build_parser().parse_args(["user", "add", "--name", "隊長", "--event", sc.event_id,
                                          "--base-url", "http://127.0.0.1:8080", *extra])

    async with pg_pool.acquire() as conn:
        args = parsed("--role", "team_lead", "--team", team_id, "--login", f"lead-{sc.event_id}")
        assert await admin.user_add(test_config, args, conn, None, None) == 0  # type: ignore[arg-type]
        made = orjson.loads(capsys.readouterr().out)
        row = await conn.fetchrow("SELECT role, event_id, team_id FROM users WHERE user_id = $1", made["user_id"])
        assert tuple(row) == ("team_lead", sc.event_id, team_id) and made["token"].startswith(made["user_id"])
        assert made["password_link"].startswith("http://127.0.0.1:8080/kiosk/console/password.html#code=")
        with pytest.raises(ValueError, match="--team"):
            await admin.user_add(test_config, parsed("--role", "team_lead"), conn, None, None)  # type: ignore[arg-type]
        with pytest.raises(LookupError, match="nobody assigned"):
            await admin.user_add(test_config, parsed("--role", "team_lead", "--team", "T-none"),  # type: ignore[arg-type]
                                 conn, None, None)
        with pytest.raises(ValueError, match="only a team lead"):
            await admin.user_add(test_config, parsed("--role", "coordinator", "--team", team_id),  # type: ignore[arg-type]
                                 conn, None, None)


async def test_team_lead_checks_in_the_team_members_confirm_with_cards(client: TestClient, recorder,  # type: ignore[no-untyped-def]
                                                                      ops_event: Scenario, pg_pool: asyncpg.Pool,
                                                                      redis_client: aioredis.Redis, keys: Keys) -> None:
    sc = ops_event
    team_id = "T-" + sc.event_id.removeprefix("ev-")
    async with pg_pool.acquire() as conn:
        lead_id, lead = await add_team_lead(conn, "隊長", sc.event_id, team_id)
        other = await _event(pg_pool, redis_client, keys)
        _, stranger = await add_team_lead(conn, "別隊隊長", other.event_id, "T-" + other.event_id.removeprefix("ev-"))
    members = [vid for vid, _ in sc.cards[:3]]
    url = f"/api/v1/events/{sc.event_id}/group-checkin"
    resp = await client.post(url, headers=bearer(lead), json={
        "gate_id": f"{sc.event_id}-desk", "volunteer_ids": [*members, "V-nobody"]})
    assert resp.status == 200, await resp.text()
    results = (await resp.json())["results"]
    assert [r.get("verdict") for r in results[:3]] == ["checked_in"] * 3
    assert {r["operator"] for r in results[:3]} == {lead_id} and {r["source"] for r in results[:3]} == {"group"}
    assert results[3] == {"volunteer_id": "V-nobody", "error": "not_on_roster"}
    assert await _headcount(client, sc) == 3

    # a member confirms with their own card at the entry gate: still on site, nothing doubled
    card = sc.cards[0][1]
    resp = await client.post("/api/v1/scans", headers=sc.auth(f"{sc.event_id}-in"),
                             json=sc.scan(card, f"{sc.event_id}-in"))
    assert (await resp.json())["reason"] == "already_on_site"
    assert await _headcount(client, sc) == 3

    resp = await client.post(f"/api/v1/events/{other.event_id}/group-checkin", headers=bearer(lead),
                             json={"gate_id": f"{other.event_id}-desk", "volunteer_ids": [other.cards[0][0]]})
    assert resp.status == 403  # another event
    resp = await client.post(url, headers=bearer(stranger), json={"gate_id": f"{sc.event_id}-desk",
                                                                  "volunteer_ids": members})
    assert resp.status == 403
    resp = await _manual(client, sc, members[0], "out", token=lead)
    assert resp.status == 403  # a team lead checks people in by group, not one by one for anyone

    report_url = f"/api/v1/events/{sc.event_id}/teams/{team_id}/report"

    async def reported() -> dict | None:  # type: ignore[type-arg]
        resp = await client.get(report_url, headers=bearer(lead))
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return body if sum(m["check_ins"] for m in body["members"]) == 3 else None

    report = await wait_for(reported)
    assert report["unit"] == "測試運用單位"
    by_id = {m["volunteer_id"]: m for m in report["members"]}
    assert by_id[members[0]]["sources"] == ["group"] and by_id[members[0]]["operators"] == [lead_id]
    assert by_id[sc.cards[4][0]]["check_ins"] == 0
    other_team = f"/api/v1/events/{other.event_id}/teams/T-{other.event_id.removeprefix('ev-')}/report"
    assert (await client.get(other_team, headers=bearer(lead))).status == 403


# --- annulment -----------------------------------------------------------------------------------

async def _card_scan(client: TestClient, sc: Scenario, i: int, at: datetime | None = None) -> dict:  # type: ignore[type-arg]
    body = sc.scan(sc.cards[i][1], f"{sc.event_id}-desk", at)
    if at is None:
        resp = await client.post("/api/v1/scans", headers=bearer(sc.device_token), json=body)
        assert resp.status == 200, await resp.text()
        return await resp.json()  # type: ignore[no-any-return]
    resp = await client.post("/api/v1/scans/batch", headers=bearer(sc.device_token), json={"scans": [body]})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"][0]  # type: ignore[no-any-return]


async def test_kiosk_undoes_its_own_scan_live_counts_follow_the_row_stays(client: TestClient, recorder,  # type: ignore[no-untyped-def]
                                                                          ops_event: Scenario,
                                                                          pg_pool: asyncpg.Pool,
                                                                          redis_client: aioredis.Redis,
                                                                          keys: Keys) -> None:
    sc = ops_event
    answer = await _card_scan(client, sc, 0)
    assert answer["verdict"] == "checked_in" and await _headcount(client, sc) == 1
    resp = await client.post(f"/api/v1/scans/{answer['scan_id']}/annul", headers=bearer(sc.device_token),
                             json={"reason": "scanned the wrong card"})
    assert resp.status == 200, await resp.text()
    undone = await resp.json()
    assert (undone["annulled"], undone["live_reversed"], undone["on_site"]) == (True, True, 0)
    assert await _headcount(client, sc) == 0
    again = await (await client.post(f"/api/v1/scans/{answer['scan_id']}/annul",
                                     headers=bearer(sc.device_token))).json()
    assert again["again"] and await _headcount(client, sc) == 0  # once only

    # the next real scan checks the volunteer in again: the annulled check-in left no presence behind
    second = await _card_scan(client, sc, 0)
    assert second["verdict"] == "checked_in"
    await wait_for(lambda: pg_pool.fetchval("SELECT 1 FROM scans WHERE scan_id = $1", uuid.UUID(second["scan_id"])))
    # the recorder passed the annulment entry by (it is in annulments already), not into the dead letters
    assert await redis_client.xlen(keys.event(sc.event_id).dead_letters) == 0
    scan_id = uuid.UUID(answer["scan_id"])
    row = await wait_for(lambda: pg_pool.fetchrow("SELECT verdict FROM scans WHERE scan_id = $1", scan_id))
    assert row["verdict"] == "checked_in"  # the scan row is never changed
    annulment = await pg_pool.fetchrow("SELECT * FROM annulments WHERE scan_id = $1", scan_id)
    assert (annulment["actor_kind"], annulment["reason"]) == ("device", "scanned the wrong card")
    with pytest.raises(asyncpg.PostgresError):
        await pg_pool.execute("DELETE FROM annulments WHERE scan_id = $1", scan_id)


async def test_undo_of_a_checkout_reopens_the_session(client: TestClient, ops_event: Scenario) -> None:
    sc = ops_event
    await _card_scan(client, sc, 1)
    out = await _card_scan(client, sc, 1)
    assert out["verdict"] == "checked_out" and await _headcount(client, sc) == 0
    resp = await client.post(f"/api/v1/scans/{out['scan_id']}/annul", headers=bearer(sc.device_token))
    assert (await resp.json())["live_reversed"] and await _headcount(client, sc) == 1
    assert (await _card_scan(client, sc, 1))["verdict"] == "checked_out"  # the reopened session closes


async def test_annulment_refusals_and_the_coordinators_reach(client: TestClient, pg_pool: asyncpg.Pool,
                                                             redis_client: aioredis.Redis, keys: Keys) -> None:
    sc = await _event(pg_pool, redis_client, keys, undo_window_min=15)
    old = await _card_scan(client, sc, 0, datetime.now(UTC) - timedelta(minutes=20))  # a replayed journal
    assert old["verdict"] == "checked_in"
    url = f"/api/v1/scans/{old['scan_id']}/annul"
    resp = await client.post(url, headers=bearer(sc.device_token))
    assert resp.status == 403
    refusal = await resp.json()
    assert refusal["error"] == "undo_window_passed" and "15 minutes" in refusal["message"]

    async with pg_pool.acquire() as conn:
        _, token = await add_team_lead(conn, "隊長", sc.event_id, "T-" + sc.event_id.removeprefix("ev-"))
    assert (await client.post(url, headers=bearer(token))).status == 403  # a team lead cannot annul
    other = await _event(pg_pool, redis_client, keys)
    assert (await client.post(url, headers=bearer(other.device_token))).status == 404  # not its event's scan
    assert (await client.post(url, headers=bearer(other.coordinator_token))).status in (403, 404)
    assert (await client.post("/api/v1/scans/not-a-uuid/annul", headers=bearer(sc.device_token))).status == 400

    # another kiosk of the same event may not annul it; the coordinator may, until the day is approved
    async with pg_pool.acquire() as conn:
        code = await create_code(conn, sc.event_id, f"{sc.event_id}-in")
    enrolled = await (await client.post("/api/v1/enroll", json={"code": code})).json()
    resp = await client.post(url, headers=bearer(enrolled["device_token"]))
    assert resp.status == 403 and (await resp.json())["error"] == "not_your_scan"
    resp = await client.post(url, headers=bearer(sc.coordinator_token), json={"reason": "wrong person"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["live_reversed"]

    dup_sc = await _event(pg_pool, redis_client, keys, policy=Policy())
    first = await _card_scan(client, dup_sc, 0)
    dup = await _card_scan(client, dup_sc, 0)
    assert dup["verdict"] == "duplicate"
    resp = await client.post(f"/api/v1/scans/{dup['scan_id']}/annul", headers=bearer(dup_sc.device_token))
    assert resp.status == 409 and (await resp.json())["error"] == "not_annullable"

    # approved: the coordinator is refused with the day; the office corrects from then on
    team_id = "T-" + dup_sc.event_id.removeprefix("ev-")
    async with pg_pool.acquire() as conn:
        day = service_day(datetime.fromisoformat(first["scanned_at"]), await load_policy(conn, dup_sc.event_id))
    await pg_pool.execute("INSERT INTO approvals (event_id, team_id, service_day, approved_by) VALUES ($1, $2, $3, 'office')",
                          dup_sc.event_id, team_id, day)
    resp = await client.post(f"/api/v1/scans/{first['scan_id']}/annul", headers=bearer(dup_sc.coordinator_token))
    assert resp.status == 409 and (await resp.json())["error"] == "day_approved"


# --- rest limits ---------------------------------------------------------------------------------


async def test_a_night_scan_belongs_to_the_service_day_the_office_approves(client: TestClient, pg_pool: asyncpg.Pool,
                                                                           redis_client: aioredis.Redis,
                                                                           keys: Keys) -> None:
    """A scan at 01:30 in Taipei is the day before's by the office's 04:00 rule: approving that day stops a
    coordinator's undo (the calendar date said the next day, so the approval was missed)."""
    sc = await _event(pg_pool, redis_client, keys)
    taipei = ZoneInfo("Asia/Taipei")
    now = datetime.now(taipei)
    night = now.replace(hour=1, minute=30, second=0, microsecond=0)
    if night > now - timedelta(minutes=1):
        night -= timedelta(days=1)  # the last 01:30 that has passed (the test event starts the day before)
    scan = await _card_scan(client, sc, 0, night)
    assert scan["verdict"] == "checked_in"
    await pg_pool.execute("INSERT INTO approvals (event_id, team_id, service_day, approved_by) VALUES ($1, $2, $3, 'office')",
                          sc.event_id, "T-" + sc.event_id.removeprefix("ev-"), night.date() - timedelta(days=1))
    resp = await client.post(f"/api/v1/scans/{scan['scan_id']}/annul", headers=bearer(sc.coordinator_token))
    assert resp.status == 409, await resp.text()
    refusal = await resp.json()
    assert refusal["error"] == "day_approved" and (night.date() - timedelta(days=1)).isoformat() in refusal["message"]

async def test_rest_limit_warnings_at_the_gate(client: TestClient, pg_pool: asyncpg.Pool,
                                               redis_client: aioredis.Redis, keys: Keys) -> None:
    sc = await _event(pg_pool, redis_client, keys, policy=Policy(debounce_s=0, max_continuous_min=120,
                                                                 max_daily_min=300, senior_max_continuous_min=60))
    now = datetime.now(UTC)
    young, senior = 1, 0  # the factory makes every fifth volunteer (0, 5, ...) born in 1950
    await _card_scan(client, sc, young, now - timedelta(minutes=100))
    assert "over_rest_limit" not in (await _card_scan(client, sc, young, now - timedelta(minutes=10)))["warnings"]
    await _card_scan(client, sc, senior, now - timedelta(minutes=100))
    assert "over_rest_limit" in (await _card_scan(client, sc, senior, now - timedelta(minutes=10)))["warnings"]
    # 130 minutes at once is over the 120; then 60 more: 190 in the day, under its 300
    await _card_scan(client, sc, 2, now - timedelta(minutes=200))
    long_out = await _card_scan(client, sc, 2, now - timedelta(minutes=70))
    assert long_out["session_minutes"] == 130 and "over_rest_limit" in long_out["warnings"]
    await _card_scan(client, sc, 2, now - timedelta(minutes=60))
    day_out = await _card_scan(client, sc, 2, now)
    assert "over_rest_limit" not in day_out["warnings"]


async def test_daily_limit_warns_at_checkin(client: TestClient, pg_pool: asyncpg.Pool,
                                            redis_client: aioredis.Redis, keys: Keys) -> None:
    sc = await _event(pg_pool, redis_client, keys, policy=Policy(debounce_s=0, max_daily_min=60,
                                                                 max_continuous_min=60))
    # yesterday noon in the event's zone, replayed from a journal: one service day whatever the hour now
    noon = (datetime.now(ZoneInfo("Asia/Taipei")) - timedelta(days=1)).replace(hour=12, minute=0)
    await _card_scan(client, sc, 1, noon - timedelta(minutes=90))
    await _card_scan(client, sc, 1, noon - timedelta(minutes=20))
    again = await _card_scan(client, sc, 1, noon)
    assert again["verdict"] == "checked_in" and "over_rest_limit" in again["warnings"]

    # the coordinators' list: on site past a limit right now, named; nobody else
    await _card_scan(client, sc, 3, datetime.now(UTC) - timedelta(minutes=5))
    resp = await client.get(f"/api/v1/events/{sc.event_id}/rest-limits", headers=bearer(sc.coordinator_token))
    assert resp.status == 200, await resp.text()
    listed = await resp.json()
    assert [o["volunteer_id"] for o in listed["over"]] == [sc.cards[1][0]]
    assert listed["over"][0]["name"] == "志工001號" and listed["over"][0]["session_minutes"] > 60
    resp = await client.get(f"/api/v1/events/{sc.event_id}/rest-limits", headers=bearer(sc.device_token))
    assert resp.status == 401


# --- kiosk PIN -----------------------------------------------------------------------------------

async def test_kiosk_pin_set_at_enrollment(client: TestClient, ops_event: Scenario, pg_pool: asyncpg.Pool) -> None:
    sc = ops_event
    async with pg_pool.acquire() as conn:
        code = await create_code(conn, sc.event_id, f"{sc.event_id}-in")
        bad_code = await create_code(conn, sc.event_id, f"{sc.event_id}-in")
    resp = await client.post("/api/v1/enroll", json={"code": bad_code, "pin": "12a4"})
    assert resp.status == 400 and (await resp.json())["field"] == "pin"
    resp = await client.post("/api/v1/enroll", json={"code": code, "pin": "2468"})
    assert resp.status == 201
    enrolled = await resp.json()
    assert enrolled["pin_set"]
    stored = await pg_pool.fetchval("SELECT pin_hash FROM devices WHERE device_id = $1", enrolled["device_id"])
    # Stored as a salted PBKDF2 hash that checks the PIN, never as the PIN itself.
    assert stored.startswith("pbkdf2-sha256$") and stored != "2468"
    assert pin_matches(stored, "2468") and not pin_matches(stored, "1357")
    check = "/api/v1/device/pin-check"
    resp = await client.post(check, headers=bearer(enrolled["device_token"]), json={"pin": "1357"})
    assert resp.status == 403 and (await resp.json())["error"] == "wrong_pin"
    resp = await client.post(check, headers=bearer(enrolled["device_token"]), json={"pin": "2468"})
    assert resp.status == 200 and (await resp.json()) == {"ok": True, "pin_set": True}
    resp = await client.post(check, headers=bearer(sc.device_token), json={"pin": "0000"})
    assert (await resp.json())["pin_set"] is False  # enrolled without a PIN: nothing to ask
    assert (await client.post(check, headers=bearer(sc.coordinator_token), json={"pin": "2468"})).status == 401


async def test_bad_input_gets_a_4xx_json_body(client: TestClient, ops_event: Scenario) -> None:
    sc = ops_event
    coordinator = bearer(sc.coordinator_token)
    base = f"/api/v1/events/{sc.event_id}"
    attempts = [
        ("post", f"{base}/manual-scans", b"not json"), ("post", f"{base}/manual-scans", b"[]"),
        ("post", f"{base}/manual-scans", b'{"volunteer_id": 7, "gate_id": "x"}'),
        ("post", f"{base}/manual-scans", b'{"volunteer_id": "V", "gate_id": "x", "scan_id": 12}'),
        ("post", f"{base}/group-checkin", b'{"gate_id": "x", "volunteer_ids": "V-1"}'),
        ("post", f"{base}/group-checkin", b'{"gate_id": "x", "volunteer_ids": [1, 2]}'),
        ("post", "/api/v1/events/bad%20id!/manual-scans", b"{}"),
        ("get", "/api/v1/events/bad%20id!/roster/search?q=a", None),
        ("get", f"{base}/roster/search?q=" + "x" * 65, None),
        ("get", f"{base}/teams/nope/report", None),
        ("post", f"/api/v1/scans/{uuid.uuid4()}/annul", b'{"reason": 5}'),
        ("post", f"/api/v1/scans/{uuid.uuid4()}/annul", b"{}"),
        ("post", "/api/v1/device/pin-check", b"{}"),
    ]
    for method, url, body in attempts:
        resp = await client.request(method, url, data=body, headers=coordinator)
        assert 400 <= resp.status < 500, (url, body, resp.status, await resp.text())
        assert "error" in await resp.json(), (url, body)


async def test_dashboards_follow_an_annulment(client: TestClient, live_url: str, ops_event: Scenario) -> None:
    import orjson
    from websockets.asyncio.client import connect

    sc = ops_event
    async with connect(f"{live_url}/ws/events/{sc.event_id}?token={sc.coordinator_token}") as ws:
        assert orjson.loads(await ws.recv())["view"]["totals"]["on_site"] == 0
        scanned = await _card_scan(client, sc, 2)
        assert scanned["verdict"] == "checked_in"

        async def on_site_becomes(n: int) -> None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 15))
                if message.get("view", {}).get("totals", {}).get("on_site") == n:
                    return
            raise AssertionError(f"on_site never became {n}")

        await on_site_becomes(1)
        resp = await client.post(f"/api/v1/scans/{scanned['scan_id']}/annul", headers=bearer(sc.device_token))
        assert resp.status == 200
        await on_site_becomes(0)
