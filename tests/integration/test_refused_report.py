"""The refused-scan report through the API against real Postgres: forged, revoked and unknown cards by gate and
hour (event time zone), the scans behind a count, and the CSV, each read back against the scan log itself."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from checkin.access.operations import add_team_lead
from checkin.cards.store import revoke_card
from checkin.keys import Keys
from loadtest.event_factory import Scenario, altered_card, make_event

TZ = ZoneInfo("Asia/Taipei")
CARD_REASONS = ("invalid_card", "unknown_key", "revoked", "not_on_roster")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def insert(pool: asyncpg.Pool, event_id: str, gate: str, at: datetime, verdict: str, reason: str | None) -> str:
    scan_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO scans (scan_id, event_id, device_id, seq, gate_id, scanned_at, received_at, verdict, reason)"
        " VALUES ($1, $2, 'dev', 1, $3, $4, $4, $5, $6)", scan_id, event_id, gate, at, verdict, reason)
    return str(scan_id)


async def stored(pool: asyncpg.Pool, scan_ids: list[str]) -> None:
    deadline = time.monotonic() + 15
    while await pool.fetchval("SELECT count(*) FROM scans WHERE scan_id::text = any($1)", scan_ids) < len(scan_ids):
        assert time.monotonic() < deadline, "the recorder did not store the scans"
        await asyncio.sleep(0.05)


async def test_the_report_counts_what_the_scan_log_holds(gateway: TestClient, recorder, scenario: Scenario,  # type: ignore[no-untyped-def]
                                                         pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                         keys: Keys) -> None:
    sc = scenario
    desk, entry = f"{sc.event_id}-desk", f"{sc.event_id}-in"
    async with pg_pool.acquire() as conn:
        other = await make_event(conn, redis_client, keys, volunteers=1)
        await revoke_card(conn, redis_client, keys, sc.cards[0][1].split(".")[2], "lost")
    # Through the gateway and the recorder: a revoked card, another event's card, an altered card, a good one
    live = [sc.scan(sc.cards[0][1], desk), sc.scan(other.cards[0][1], desk), sc.scan(altered_card(sc.cards[1][1]), desk),
            sc.scan(sc.cards[2][1], desk)]
    hours_live = {datetime.now(UTC).astimezone(TZ).strftime("%Y-%m-%dT%H:00")}  # and after: an hour may turn between
    for body in live:
        assert (await gateway.post("/api/v1/scans", json=body, headers=sc.auth(desk))).status == 200
    await stored(pg_pool, [str(b["scan_id"]) for b in live])
    # Earlier hours, written straight into the log: two gates, every card reason, and refusals of other kinds
    # (not about the card) that the report leaves out
    at = datetime(2024, 2, 24, 18, 5, tzinfo=TZ)
    behind = []
    for gate, minute, reason in ((desk, 0, "revoked"), (desk, 10, "revoked"), (entry, 20, "not_on_roster"),
                                 (entry, 59, "unknown_key"), (desk, 70, "invalid_card")):
        behind.append(await insert(pg_pool, sc.event_id, gate, at.replace(minute=0) + timedelta(minutes=minute),
                                   "rejected", reason))
    for reason in ("event_closed", "not_insured", "wrong_gate"):
        await insert(pg_pool, sc.event_id, desk, at, "rejected", reason)
    await insert(pg_pool, sc.event_id, desk, at, "duplicate", "debounce")
    await insert(pg_pool, other.event_id, desk, at, "rejected", "revoked")  # another event's

    resp = await gateway.get(f"/api/v1/events/{sc.event_id}/refused-scans", headers=bearer(sc.coordinator_token))
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    log = await pg_pool.fetch("SELECT gate_id, scanned_at, reason FROM scans WHERE event_id = $1 AND verdict = 'rejected'",
                              sc.event_id)
    expected = Counter((r["scanned_at"].astimezone(TZ).strftime("%Y-%m-%dT%H:00"), r["gate_id"], r["reason"])
                       for r in log if r["reason"] in CARD_REASONS)
    assert {(r["hour"], r["gate_id"], r["reason"]): r["count"] for r in report["rows"]} == dict(expected)
    assert expected[("2024-02-24T18:00", desk, "revoked")] == 2 and expected[("2024-02-24T19:00", desk, "invalid_card")] == 1
    hours_live.add(datetime.now(UTC).astimezone(TZ).strftime("%Y-%m-%dT%H:00"))
    assert {r: sum(expected[(h, desk, r)] for h in hours_live) for r in ("revoked", "not_on_roster", "invalid_card")} == {
        "revoked": 1, "not_on_roster": 1, "invalid_card": 1}
    assert report["totals"] == {r: sum(n for (_, _, reason), n in expected.items() if reason == r) for r in CARD_REASONS}

    # the scans behind one count
    resp = await gateway.get(f"/api/v1/events/{sc.event_id}/refused-scans/scans", headers=bearer(sc.coordinator_token),
                             params={"gate_id": desk, "hour": "2024-02-24T18:00", "reason": "revoked"})
    assert resp.status == 200, await resp.text()
    scans = (await resp.json())["scans"]
    assert [s["scan_id"] for s in scans] == behind[:2]

    resp = await gateway.get(f"/api/v1/events/{sc.event_id}/refused-scans.csv", headers=bearer(sc.coordinator_token))
    assert resp.status == 200 and resp.content_type == "text/csv"
    body = await resp.read()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["時段", "閘口代碼", "閘口", "原因代碼", "原因", "次數"]
    assert {(r[0].replace(" ", "T"), r[1], r[3]): int(r[5]) for r in rows[1:]} == dict(expected)


async def test_the_csv_is_safe_in_a_spreadsheet(gateway: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    await pg_pool.execute("UPDATE gates SET name = '=HYPERLINK(\"http://x\")' WHERE gate_id = $1", f"{sc.event_id}-desk")
    await insert(pg_pool, sc.event_id, f"{sc.event_id}-desk", datetime(2024, 2, 24, 18, tzinfo=TZ), "rejected", "revoked")
    body = await (await gateway.get(f"/api/v1/events/{sc.event_id}/refused-scans.csv",
                                    headers=bearer(sc.coordinator_token))).read()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[1][2] == "'=HYPERLINK(\"http://x\")" and rows[1][5] == "1"


async def test_only_the_events_coordinator_or_an_admin_reads_the_report(gateway: TestClient, scenario: Scenario,
                                                                        pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    async with pg_pool.acquire() as conn:
        _, lead = await add_team_lead(conn, "隊長", sc.event_id, "T-" + sc.event_id.removeprefix("ev-"))
    base = f"/api/v1/events/{sc.event_id}/refused-scans"
    for path in (base, base + ".csv", base + "/scans?gate_id=g&hour=2024-02-24T18:00&reason=revoked"):
        assert (await gateway.get(path, headers=bearer(lead))).status == 403
        assert (await gateway.get(path, headers=bearer(sc.device_token))).status == 401
        assert (await gateway.get(path)).status == 401
    for query, field in (("gate_id=g&hour=2024-02-24T18:30&reason=revoked", "hour"),
                         ("gate_id=g&hour=yesterday&reason=revoked", "hour"),
                         ("gate_id=g&hour=2024-02-24T18:00&reason=debounce", "reason"),
                         ("hour=2024-02-24T18:00&reason=revoked", "gate_id")):
        resp = await gateway.get(f"{base}/scans?{query}", headers=bearer(sc.coordinator_token))
        assert resp.status == 400 and (await resp.json())["field"] == field, query
