"""`checkin backup` and `checkin restore` through the command line: an event with scans, a correction and a
certificate is backed up, restored into an empty database on the same server, and the two agree on every
count and on every volunteer's hours. Runs against whichever server the suite uses (embedded or system)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

import checkin.reconcile.store as reconcile
from checkin.config import Config
from checkin.keys import Keys
from checkin.servers import EmbeddedPostgres
from loadtest.event_factory import Scenario
from tests.integration.test_office_api import Office, make_office


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)  # scans on a fixed day

COUNTS = """
SELECT (SELECT count(*) FROM scans WHERE event_id = $1) AS scans,
       (SELECT count(*) FROM corrections WHERE event_id = $1) AS corrections,
       (SELECT count(*) FROM certificates WHERE event_id = $1) AS certificates,
       (SELECT count(*) FROM audit_log WHERE event_id = $1) AS audit,
       (SELECT count(*) FROM volunteers) AS volunteers
"""


def _checkin(*args: str, config: Config, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    base.update(CHECKIN_DATA_DIR=str(config.data_dir), CHECKIN_REDIS_URL=config.redis_url or "",
                CHECKIN_REDIS_PREFIX=config.redis_prefix + ":restored", **env)
    return subprocess.run([sys.executable, "-m", "checkin", *args], env=base, capture_output=True, text=True,
                          timeout=300)


async def _facts(url: str, event_id: str) -> tuple[dict[str, int], dict[str, float]]:
    conn = await asyncpg.connect(url)
    try:
        counts = dict(await conn.fetchrow(COUNTS, event_id))
        hours = {h.volunteer_id: h.total_hours for h in await reconcile.reconcile_event(conn, event_id, progress=False)}
    finally:
        await conn.close()
    return counts, hours


def _sibling(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


async def test_backup_then_restore_into_an_empty_database_gives_the_same_hours_and_counts(
        gateway: TestClient, office: Office, test_config: Config, pg_url: str, tmp_path: Path) -> None:
    o = office
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/corrections", headers=o.coordinator, json={
        "volunteer_id": o.ids[0], "action": "change", "session_key": o.keys[o.ids[0]],
        "end": "2024-02-24T12:00", "reason": "提早離開"})
    assert resp.status == 201, await resp.text()
    resp = await gateway.post(f"/api/v1/events/{o.ev.event_id}/volunteers/{o.ids[1]}/certificates",
                              headers=o.coordinator)
    assert resp.status == 201, await resp.text()
    before = await _facts(pg_url, o.ev.event_id)
    assert before[0]["scans"] >= 5 and before[0]["corrections"] == 1 and before[0]["certificates"] == 1
    assert before[1][o.ids[0]] == 3  # the correction is in the hours

    out = tmp_path / "event.backup"
    done = _checkin("backup", "--out", str(out), config=test_config, CHECKIN_POSTGRES_URL=pg_url)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0 and not out.with_name(out.name + ".part").exists()

    name = urlsplit(pg_url).path.lstrip("/") + "_restored"
    admin = await asyncpg.connect(_sibling(pg_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        target = _sibling(pg_url, name)
        done = _checkin("restore", str(out), config=test_config, CHECKIN_POSTGRES_URL=target)
        assert done.returncode == 0, done.stderr
        assert "live state rebuilt" in done.stdout
        assert await _facts(target, o.ev.event_id) == before

        again = _checkin("restore", str(out), config=test_config, CHECKIN_POSTGRES_URL=target)
        assert again.returncode == 2 and "not empty" in again.stderr  # never over data
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    # A new laptop at the desk: no URLs, a fresh data directory; restore starts its embedded PostgreSQL.
    fresh = Path(tempfile.mkdtemp(prefix="checkin-test-restore-"))  # the server's own user must reach it
    done = _checkin("restore", str(out), config=replace(test_config, data_dir=fresh))
    assert done.returncode == 0, done.stderr
    server = EmbeddedPostgres(fresh)
    url = await asyncio.to_thread(server.start)
    try:
        assert await _facts(url, o.ev.event_id) == before
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(fresh, ignore_errors=True)


def test_restore_refuses_a_missing_file(test_config: Config, pg_url: str, tmp_path: Path) -> None:
    done = _checkin("restore", str(tmp_path / "nothing.backup"), config=test_config, CHECKIN_POSTGRES_URL=pg_url)
    assert done.returncode == 2 and "no backup file" in done.stderr
