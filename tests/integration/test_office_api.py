"""The office API through the gateway: hours, anomalies, timeline, corrections, approvals, CSV exports."""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

import checkin.events.store as events
from checkin.access.accounts import add_user
from checkin.hours.exports import RECORD_HEADER
from checkin.keys import Keys
from loadtest.event_factory import Scenario, make_event

TZ = ZoneInfo("Asia/Taipei")
DAY = date(2024, 2, 24)


def t(hh: int, mm: int = 0) -> datetime:
    return datetime(2024, 2, 24, hh, mm, tzinfo=TZ)


@dataclass
class Office:
    ev: Scenario
    team_id: str
    coordinator: dict[str, str]  # headers
    coordinator_id: str
    admin: dict[str, str]
    stranger: dict[str, str]  # a coordinator of another event
    ids: list[str]
    keys: dict[str, str]  # volunteer -> the check-in scan id of their session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def add_scan(conn: asyncpg.Connection, ev: Scenario, vid: str, at: datetime, verdict: str) -> str:
    scan_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO scans (scan_id, event_id, device_id, seq, gate_id, volunteer_id, scanned_at, received_at,"
        " verdict) VALUES ($1, $2, 'dev', 1, $3, $4, $5, $5, $6)",
        uuid.UUID(scan_id), ev.event_id, f"{ev.event_id}-desk", vid, at, verdict)
    return scan_id


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)


async def make_office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    """The scenario's event with a fixed day shift and three volunteers' scans: 8 h, 3.5 h, no check-out."""
    ev = scenario
    ids = [vid for vid, _ in ev.cards[:3]]
    async with pg_pool.acquire() as conn:
        # The scans below are of DAY: the event is dated so, since the office may date nothing far from its dates.
        await conn.execute("UPDATE events SET starts_on = $2, ends_on = $2 WHERE event_id = $1", ev.event_id, DAY)
        shift = f"{ev.event_id}-day"
        await events.add_shift(conn, ev.event_id, shift, "main", "白班", t(9), t(17), required=3)
        await events.assign(conn, ev.event_id, shift, ids)
        await conn.execute("UPDATE volunteers SET company = '台灣電力公司', category = 'corporate'"
                           " WHERE volunteer_id = $1", ids[0])
        keys_ = {ids[0]: await add_scan(conn, ev, ids[0], t(9), "checked_in"),
                 ids[1]: await add_scan(conn, ev, ids[1], t(9), "checked_in"),
                 ids[2]: await add_scan(conn, ev, ids[2], t(10), "checked_in")}
        await add_scan(conn, ev, ids[0], t(17), "checked_out")
        await add_scan(conn, ev, ids[1], t(12, 30), "checked_out")
        _, admin = await add_user(conn, "管理員", "admin", None)
        other = await make_event(conn, redis_client, keys, volunteers=1)
    return Office(ev, f"T-{ev.event_id.removeprefix('ev-')}", bearer(ev.coordinator_token),
                  ev.coordinator_token.split(".")[0], bearer(admin), bearer(other.coordinator_token), ids, keys_)


def read_csv(body: bytes) -> list[list[str]]:
    """As a spreadsheet would: the BOM says UTF-8, then plain CSV."""
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def export(gateway: TestClient, o: Office, kind: str) -> bytes:
    resp = await gateway.get(f"/api/v1/events/{o.ev.event_id}/exports/{kind}.csv", headers=o.coordinator)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/csv"
    return await resp.read()


async def scan_rows(pool: asyncpg.Pool, event_id: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM scans WHERE event_id = $1 ORDER BY scan_id", event_id)


async def test_a_correction_changes_the_export_is_audited_and_leaves_scans_alone(
    gateway: TestClient, office: Office, pg_pool: asyncpg.Pool,
) -> None:
    o = office
    before_scans = await scan_rows(pg_pool, o.ev.event_id)
    rows = read_csv(await export(gateway, o, "records"))
    assert rows[0] == list(RECORD_HEADER)
    hours = {r[0]: r[3] for r in rows[1:]}
    assert hours == {"志工000號": "8", "志工001號": "3.5", "志工002號": "7"}  # 10:00 to the shift's end

    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/corrections", headers=o.coordinator, json={
        "volunteer_id": o.ids[0], "action": "change", "session_key": o.keys[o.ids[0]],
        "end": "2024-02-24T12:00", "reason": "提早離開，隊長確認"})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["hours"] == 3

    hours = {r[0]: r[3] for r in read_csv(await export(gateway, o, "records"))[1:]}
    assert hours["志工000號"] == "3"
    audit = await pg_pool.fetchrow("SELECT actor, action, subject, detail::text FROM audit_log WHERE event_id = $1"
                                   " ORDER BY audit_id DESC LIMIT 1", o.ev.event_id)
    assert (audit[0], audit[1], audit[2]) == (o.coordinator_id, "correction_change", o.ids[0])
    detail = json.loads(audit[3])
    assert detail["reason"] == "提早離開，隊長確認"
    assert detail["before"]["credited_minutes"] == 480 and detail["after"]["credited_minutes"] == 180

    resp = await gateway.get(f"/api/v1/events/{o.ev.event_id}/volunteers/{o.ids[0]}/timeline", headers=o.coordinator)
    timeline = await resp.json()
    assert [c["reason"] for c in timeline["corrections"]] == ["提早離開，隊長確認"]
    assert [s["verdict"] for s in timeline["scans"]] == ["checked_in", "checked_out"]
    assert [s["flags"] for s in timeline["sessions"]] == [["corrected"]]
    assert await scan_rows(pg_pool, o.ev.event_id) == before_scans


async def test_approval_freezes_the_day_for_all_but_an_admin(
    gateway: TestClient, office: Office, pg_pool: asyncpg.Pool,
) -> None:
    o = office
    url = f"/api/v1/events/{o.ev.event_id}"
    resp = await gateway.post(url + "/approvals", headers=o.coordinator, json={"team_id": o.team_id, "day": "2024-02-24"})
    assert resp.status == 201 and (await resp.json())["approved_by"] == o.coordinator_id
    assert await pg_pool.fetchval("SELECT approved_by FROM approvals WHERE event_id = $1", o.ev.event_id) \
        == o.coordinator_id
    teams = (await (await gateway.get(url + "/teams", headers=o.coordinator)).json())["items"]
    assert [(x["team_id"], x["day"], x["approved"]) for x in teams] == [(o.team_id, "2024-02-24", True)]

    void = {"volunteer_id": o.ids[1], "action": "void", "session_key": o.keys[o.ids[1]], "reason": "借卡代刷"}
    resp = await gateway.post(url + "/corrections", headers=o.coordinator, json=void)
    assert resp.status == 409
    assert (await resp.json())["error"] == "day_approved"
    assert {r[1] for r in read_csv(await export(gateway, o, "records"))[1:]} == {""}  # unchanged: 3 lines
    assert len(read_csv(await export(gateway, o, "records"))) == 4

    resp = await gateway.post(url + "/corrections", headers=o.admin, json=void)
    assert resp.status == 201
    names = [r[0] for r in read_csv(await export(gateway, o, "records"))[1:]]
    assert "志工001號" not in names
    actions = [r[0] for r in await pg_pool.fetch(
        "SELECT action FROM audit_log WHERE event_id = $1 ORDER BY audit_id", o.ev.event_id)]
    assert actions == ["approve", "correction_refused", "correction_void_override"]


@pytest.mark.parametrize("method,path", [
    ("GET", "/hours"), ("GET", "/anomalies"), ("GET", "/teams"), ("GET", "/summary"),
    ("GET", "/exports/records.csv"), ("GET", "/exports/companies.csv"), ("GET", "/volunteers/{v}/timeline"),
    ("POST", "/corrections"), ("POST", "/approvals"),
])
async def test_a_coordinator_of_another_event_sees_nothing(
    gateway: TestClient, office: Office, method: str, path: str,
) -> None:
    url = f"/api/v1/events/{office.ev.event_id}" + path.replace("{v}", office.ids[0])
    body = {"volunteer_id": office.ids[0], "action": "void", "session_key": office.keys[office.ids[0]],
            "reason": "x", "team_id": office.team_id, "day": "2024-02-24"}
    resp = await gateway.request(method, url, headers=office.stranger, json=body)
    assert resp.status == 403
    assert (await resp.json())["error"] == "forbidden"
    resp = await gateway.request(method, url, json=body)
    assert resp.status == 401
    assert (await resp.json())["error"] == "unauthorized"


async def test_exports_are_utf8_with_bom_and_read_back_in_chinese(gateway: TestClient, office: Office) -> None:
    o = office
    for kind in ("records", "teams", "companies", "summary"):
        body = await export(gateway, o, kind)
        assert body.startswith(b"\xef\xbb\xbf"), kind
        assert not body[3:].startswith(b"\xef\xbb\xbf"), kind
    assert read_csv(await export(gateway, o, "companies")) == [["企業", "志工人數", "服務人次", "服務時數"],
                                                              ["台灣電力公司", "1", "1", "8"]]
    teams = read_csv(await export(gateway, o, "teams"))
    assert teams[1] == ["測試志工隊", "測試運用單位", "2024-02-24", "3", "18.5", "1", "否"]
    summary = {(r[0], r[1]): r[2] for r in read_csv(await export(gateway, o, "summary"))[1:]}
    assert summary[("志工人數", "")] == "3" and summary[("總服務時數", "")] == "18.5"
    assert summary[("65歲以上志工人數", "")] == "1"  # born 1950 (the factory's every fifth)
    assert summary[("類別志工人數", "企業志工")] == "1"


async def test_lists_hours_anomalies_and_evidence(gateway: TestClient, office: Office) -> None:
    o = office
    url = f"/api/v1/events/{o.ev.event_id}"
    page = await (await gateway.get(url + "/hours?limit=2&offset=1", headers=o.coordinator)).json()
    assert page["total"] >= 3 and len(page["items"]) == 2
    mine = [x for x in (await (await gateway.get(url + "/hours?limit=500", headers=o.coordinator)).json())["items"]
            if x["volunteer_id"] in o.ids]
    assert [x["hours"] for x in mine] == [8, 3.5, 7]
    found = (await (await gateway.get(url + "/anomalies?kind=missing_checkout", headers=o.coordinator)).json())
    assert [(a["volunteer_id"], a["scan_ids"], a["day"]) for a in found["items"]] == \
        [(o.ids[2], [o.keys[o.ids[2]]], "2024-02-24")]
    resp = await gateway.post(url + "/corrections", headers=o.coordinator, json={
        "volunteer_id": o.ids[2], "action": "change", "session_key": o.keys[o.ids[2]],
        "end": "2024-02-24T15:00:00+08:00", "reason": "紙本簽退 15:00"})
    assert resp.status == 201
    found = await (await gateway.get(url + "/anomalies?kind=missing_checkout", headers=o.coordinator)).json()
    assert found["items"] == []  # the cache was dropped: the office sees its own correction at once
    resolved = await (await gateway.get(url + "/anomalies?resolved=true", headers=o.coordinator)).json()
    assert [a["kind"] for a in resolved["items"]] == ["missing_checkout"]


@pytest.mark.parametrize("body,field", [
    ({"action": "void", "session_key": "k", "reason": "r"}, "volunteer_id"),
    ({"volunteer_id": "V", "action": "erase", "reason": "r"}, "action"),
    ({"volunteer_id": "V", "action": "void", "session_key": "k", "reason": "  "}, "reason"),
    ({"volunteer_id": "V", "action": "void", "reason": "r"}, "session_key"),
    ({"volunteer_id": "V", "action": "add", "start": "yesterday", "end": "2024-02-24T10:00", "reason": "r"}, "start"),
    ({"volunteer_id": "V", "action": "add", "start": "2024-02-24T10:00", "reason": "r"}, "end"),
    ({"volunteer_id": "V", "action": "add", "start": "2024-02-24T10:00", "end": "2024-02-24T09:00", "reason": "r"},
     "end"),
    ({"volunteer_id": "V", "action": "add", "start": 5, "end": "2024-02-24T09:00", "reason": "r"}, "start"),
])
async def test_bad_corrections_name_the_field(gateway: TestClient, office: Office, body: dict[str, object],
                                              field: str) -> None:
    resp = await gateway.post(f"/api/v1/events/{office.ev.event_id}/corrections", headers=office.coordinator,
                              json=body)
    assert resp.status == 400
    assert (await resp.json())["field"] == field


async def test_other_bad_input_gets_4xx_json(gateway: TestClient, office: Office) -> None:
    o = office
    url = f"/api/v1/events/{o.ev.event_id}"
    cases = [
        ("POST", "/approvals", {"team_id": o.team_id, "day": "24/2/2024"}, 400, "day"),
        ("POST", "/approvals", {"day": "2024-02-24"}, 400, "team_id"),
        ("POST", "/approvals", {"team_id": "no-such-team", "day": "2024-02-24"}, 404, "team_id"),
        ("GET", "/hours?limit=0", None, 400, "limit"),
        ("GET", "/hours?offset=x", None, 400, "offset"),
        ("GET", "/anomalies?resolved=maybe", None, 400, "resolved"),
        ("GET", "/exports/everything.csv", None, 404, "kind"),
        ("GET", "/volunteers/nobody/timeline", None, 404, "volunteer_id"),
        ("POST", "/corrections", {"volunteer_id": "nobody", "action": "add", "start": "2024-02-24T09:00",
                                  "end": "2024-02-24T10:00", "reason": "紙本"}, 404, "volunteer_id"),
        ("POST", "/corrections", {"volunteer_id": o.ids[0], "action": "void", "session_key": "no-such",
                                  "reason": "r"}, 400, "session_key"),
    ]
    for method, path, body, status, field in cases:
        resp = await gateway.request(method, url + path, headers=o.coordinator, json=body)
        assert (resp.status, (await resp.json())["field"]) == (status, field), path
    resp = await gateway.post(url + "/corrections", headers=o.coordinator, data=b"{not json")
    assert resp.status == 400


async def test_a_team_lead_approves_only_their_own_team_and_sees_no_office_data(
    gateway: TestClient, office: Office, pg_pool: asyncpg.Pool,
) -> None:
    o = office
    url = f"/api/v1/events/{o.ev.event_id}"
    async with pg_pool.acquire() as conn:
        lead_id, lead = await add_user(conn, "隊長", "team_lead", o.ev.event_id, o.team_id)
        await conn.execute("INSERT INTO teams (team_id, name) VALUES ($1, '別隊')", o.team_id + "-b")
    for path in ("/hours", "/anomalies", "/summary", "/exports/records.csv", f"/volunteers/{o.ids[0]}/timeline"):
        resp = await gateway.get(url + path, headers=bearer(lead))
        assert resp.status == 403, path
    void = {"volunteer_id": o.ids[1], "action": "void", "session_key": o.keys[o.ids[1]], "reason": "x"}
    assert (await gateway.post(url + "/corrections", headers=bearer(lead), json=void)).status == 403
    assert (await gateway.get(url + "/headcount", headers=bearer(lead))).status == 403

    resp = await gateway.post(url + "/approvals", headers=bearer(lead), json={"team_id": o.team_id + "-b",
                                                                             "day": "2024-02-24"})
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    resp = await gateway.post(url + "/approvals", headers=bearer(lead), json={"team_id": o.team_id, "day": "2024-02-24"})
    assert resp.status == 201 and (await resp.json())["approved_by"] == lead_id
    teams = (await (await gateway.get(url + "/teams", headers=o.coordinator)).json())["items"]
    assert [(x["team_id"], x["approved"]) for x in teams] == [(o.team_id, True)]


async def test_untrained_hours_are_exported_as_excluded_until_an_admin_accepts_them(
    gateway: TestClient, office: Office, pg_pool: asyncpg.Pool,
) -> None:
    o = office
    url = f"/api/v1/events/{o.ev.event_id}"
    await pg_pool.execute("UPDATE events SET policy = policy || '{\"record_rules\": \"enforce\"}' WHERE event_id = $1",
                          o.ev.event_id)
    await pg_pool.execute("UPDATE volunteers SET training_basic = true, training_special = true, insured_from = $2,"
                          " insured_to = $2 WHERE volunteer_id = $1", o.ids[0], DAY)  # only the first is in order
    assert [r[0] for r in read_csv(await export(gateway, o, "records"))[1:]] == ["志工000號"]
    excluded = read_csv(await export(gateway, o, "excluded"))
    assert excluded[0][4] == "原因代碼"
    assert sorted((r[0], r[4]) for r in excluded[1:]) == [("志工001號", "untrained"), ("志工002號", "untrained")]

    accept = {"volunteer_id": o.ids[1], "day": "2024-02-24", "reason": "訓練與保險證明後補"}
    resp = await gateway.post(url + "/acceptances", headers=o.coordinator, json=accept)
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    resp = await gateway.post(url + "/acceptances", headers=o.admin, json={**accept, "reason": " "})
    assert resp.status == 400 and (await resp.json())["field"] == "reason"
    resp = await gateway.post(url + "/acceptances", headers=o.admin, json={**accept, "volunteer_id": "nobody"})
    assert resp.status == 404 and (await resp.json())["field"] == "volunteer_id"
    resp = await gateway.post(url + "/acceptances", headers=o.admin, json=accept)
    assert resp.status == 201, await resp.text()
    # at once, not after the office cache's lifetime
    assert sorted(r[0] for r in read_csv(await export(gateway, o, "records"))[1:]) == ["志工000號", "志工001號"]
    assert [r[0] for r in read_csv(await export(gateway, o, "excluded"))[1:]] == ["志工002號"]
