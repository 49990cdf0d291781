"""The record book's layout, insurance coverage and the attendance export, read back from the CSVs the office
API and the CLI write (issue 20)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from checkin.config import Config
from checkin.keys import Keys
from loadtest.event_factory import Scenario
from tests.integration.test_office_api import Office, make_office, read_csv


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)  # 8 h, 3.5 h, and 10:00 with no check-out


async def _csv(gateway: TestClient, o: Office, path: str) -> list[list[str]]:
    resp = await gateway.get(f"/api/v1/events/{o.ev.event_id}/exports/{path}", headers=o.coordinator)
    assert resp.status == 200, await resp.text()
    return read_csv(await resp.read())


async def test_records_in_the_record_books_layout(gateway: TestClient, office: Office, pg_pool: asyncpg.Pool) -> None:
    rows = await _csv(gateway, office, "records.csv?layout=book")
    assert rows[0] == ["姓名", "紀錄冊編號", "服務日期", "服務時數", "服務內容", "運用單位", "登錄人"]
    coordinator = await pg_pool.fetchval("SELECT name FROM users WHERE user_id = $1", office.coordinator_id)
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["志工000號"][2:4] == ["113/02/24", "8小時"]
    assert by_name["志工001號"][2:4] == ["113/02/24", "3小時30分"]
    assert {r[6] for r in rows[1:]} == {coordinator}  # the person who exported registers the lines
    named = await _csv(gateway, office, "records.csv?layout=book&registrar=%E7%8E%8B%E5%B0%8F%E6%98%8E")
    assert {r[6] for r in named[1:]} == {"王小明"}
    resp = await gateway.get(f"/api/v1/events/{office.ev.event_id}/exports/records.csv?layout=scroll",
                             headers=office.coordinator)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_field"


async def test_summary_says_how_many_service_days_were_insured(gateway: TestClient, office: Office,
                                                                pg_pool: asyncpg.Pool) -> None:
    # One of the three was not insured (the office caches a derivation, so this comes before any export).
    await pg_pool.execute("UPDATE volunteers SET insured_from = NULL, insured_to = NULL WHERE volunteer_id = $1",
                          office.ids[2])
    rows = {r[0]: r[2] for r in (await _csv(gateway, office, "summary.csv"))[1:]}
    assert (rows["服務人日"], rows["投保服務人日"], rows["意外保險涵蓋率"]) == ("3", "2", "66.7%")


async def test_attendance_between_two_days(gateway: TestClient, office: Office) -> None:
    rows = await _csv(gateway, office, "attendance.csv?from=2024-02-24&to=2024-02-24")
    assert rows[0] == ["姓名", "紀錄冊編號", "志工隊", "服務日期", "簽到時間", "簽退時間", "計入時數", "註記"]
    lines = {r[0]: r for r in rows[1:]}
    assert lines["志工000號"][4:7] == ["2024-02-24 09:00", "2024-02-24 17:00", "8"]
    assert "未簽退" in lines["志工002號"][7]
    assert await _csv(gateway, office, "attendance.csv?from=2024-02-25&to=2024-02-26") == [rows[0]]
    for query in ("", "?from=2024-02-24", "?from=24/02/2024&to=2024-02-24", "?from=2024-02-25&to=2024-02-24"):
        resp = await gateway.get(f"/api/v1/events/{office.ev.event_id}/exports/attendance.csv{query}",
                                 headers=office.coordinator)
        assert resp.status == 400, query
        assert (await resp.json())["error"] == "invalid_field"


def test_the_cli_writes_the_book_layout_and_attendance(office: Office, test_config: Config, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env.update(CHECKIN_POSTGRES_URL=test_config.postgres_url or "", CHECKIN_REDIS_URL=test_config.redis_url or "",
               CHECKIN_REDIS_PREFIX=test_config.redis_prefix, CHECKIN_DATA_DIR=str(tmp_path))
    book, attendance = tmp_path / "book.csv", tmp_path / "attendance.csv"
    for args, out in ((["records", "--layout", "book", "--registrar", "志工中心"], book),
                      (["attendance", "--from", "2024-02-24", "--to", "2024-02-24"], attendance)):
        done = subprocess.run([sys.executable, "-m", "checkin", "export", *args, "--event", office.ev.event_id,
                               "--out", str(out), "--quiet"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    rows = read_csv(book.read_bytes())
    assert rows[1][2].startswith("113/") and rows[1][6] == "志工中心"
    assert len(read_csv(attendance.read_bytes())) == 4  # header and three sessions
    done = subprocess.run([sys.executable, "-m", "checkin", "export", "attendance", "--event", office.ev.event_id,
                           "--out", str(attendance)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "first and last service day" in done.stderr
