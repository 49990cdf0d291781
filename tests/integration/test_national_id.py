"""National IDs end to end: imported from a roster CSV, stored encrypted, absent from the gates' roster,
masked in the coordinators' search, in the clear only in the admin's export (audited)."""

from __future__ import annotations

import argparse
import stat
from dataclasses import replace
from pathlib import Path

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

import checkin.events.store as events
from checkin import pii
from checkin.access.accounts import add_user
from checkin.cli.main import build_parser
from checkin.cli.pii import cmd_export_national_ids, national_id_rows
from checkin.config import Config
from checkin.keys import Keys
from checkin.reconcile.store import NotAllowed
from checkin.roster.csv import parse_roster
from checkin.roster.store import Counts, import_roster
from loadtest.event_factory import Scenario


def valid_id(n: int) -> str:
    """A national ID with a right check digit, different for each n."""
    body = f"Q2{(n + 1) * 1_048_573 % 10**7:07d}"
    for last in "0123456789":
        try:
            return pii.check_national_id(body + last)
        except ValueError:
            continue
    raise AssertionError(body)


def roster_csv(sc: Scenario, ids: dict[str, str]) -> bytes:
    tag = sc.event_id.removeprefix("ev-")
    # what tests/factories.py stored, so that only the IDs are new
    lines = ["志工編號,姓名,志工隊,運用單位,志工隊編號,運用單位編號,出生年,保險起日,保險迄日,身分證字號"]
    lines += [f"{vid},志工{i:03d}號,測試志工隊,測試運用單位,T-{tag},U-{tag},{1950 if i % 5 == 0 else 1990},"
              f"2000-01-01,2100-01-01,{ids.get(vid, '')}" for i, (vid, _) in enumerate(sc.cards)]
    return "\n".join(lines).encode()


@pytest.fixture
def cfg(test_config: Config, tmp_path: Path) -> Config:
    return replace(test_config, data_dir=tmp_path / "data")


@pytest.fixture
async def imported(scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys,
                   cfg: Config) -> dict[str, str]:
    ids = {vid: valid_id(i) for i, (vid, _) in enumerate(scenario.cards) if i % 2 == 0}
    parsed = parse_roster(roster_csv(scenario, ids))
    assert parsed.ok, parsed.problems
    async with pg_pool.acquire() as conn:
        report = await import_roster(conn, parsed.rows, key_path=cfg.pii_key_path)
        assert report.volunteers.updated == len(ids)
        await events.load_event(conn, redis_client, keys, scenario.event_id)
    return ids


async def test_stored_encrypted_and_reimport_changes_nothing(imported: dict[str, str], scenario: Scenario,
                                                              pg_pool: asyncpg.Pool, cfg: Config) -> None:
    rows = await pg_pool.fetch("SELECT volunteer_id, national_id_enc, national_id_mask FROM volunteers"
                               " WHERE volunteer_id = ANY($1::text[])", [v for v, _ in scenario.cards])
    key = pii.load_or_create_key(cfg.pii_key_path)
    assert stat.S_IMODE(cfg.pii_key_path.stat().st_mode) == 0o600
    for vid, blob, shown in rows:
        if vid not in imported:
            assert blob is None and shown is None
            continue
        assert imported[vid].encode() not in blob
        assert pii.decrypt(key, blob, vid) == imported[vid] and shown == pii.mask(imported[vid])
    async with pg_pool.acquire() as conn:
        again = await import_roster(conn, parse_roster(roster_csv(scenario, imported)).rows,
                                    key_path=cfg.pii_key_path)
        assert again.volunteers == Counts(unchanged=len(scenario.cards))
        with pytest.raises(ValueError, match="PII key"):
            await import_roster(conn, parse_roster(roster_csv(scenario, imported)).rows)


async def test_gate_roster_in_redis_has_no_id(imported: dict[str, str], scenario: Scenario,
                                              redis_client: aioredis.Redis, keys: Keys) -> None:
    roster = await redis_client.hgetall(keys.event(scenario.event_id).roster)
    assert len(roster) == len(scenario.cards)
    text = b"".join(roster.values()).decode()
    for national_id in imported.values():
        assert national_id not in text and pii.mask(national_id) not in text
    assert all("national" not in k for r in roster.values() for k in orjson.loads(r))


async def test_coordinator_search_shows_only_the_mask(imported: dict[str, str], scenario: Scenario,
                                                      gateway: TestClient) -> None:
    vid = scenario.cards[0][0]
    resp = await gateway.get(f"/api/v1/events/{scenario.event_id}/roster/search", params={"q": vid},
                             headers={"Authorization": f"Bearer {scenario.coordinator_token}"})
    assert resp.status == 200, await resp.text()
    body = await resp.text()
    found = orjson.loads(body)["results"]
    assert [r["volunteer_id"] for r in found] == [vid]
    assert found[0]["national_id"] == pii.mask(imported[vid]) and imported[vid] not in body
    resp = await gateway.get(f"/api/v1/events/{scenario.event_id}/roster/search",
                             params={"q": scenario.cards[1][0]},
                             headers={"Authorization": f"Bearer {scenario.coordinator_token}"})
    assert (await resp.json())["results"][0]["national_id"] is None


async def test_admin_exports_in_the_clear_audited(imported: dict[str, str], scenario: Scenario,
                                                  pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                  keys: Keys, cfg: Config, tmp_path: Path) -> None:
    out = tmp_path / "ids.csv"
    args = build_parser().parse_args(["export-national-ids", "--event", scenario.event_id, "--out", str(out),
                                      "--actor", "placeholder"])
    async with pg_pool.acquire() as conn:
        admin, _ = await add_user(conn, "管理員", "admin", None)
        assert await cmd_export_national_ids(cfg, replace_actor(args, admin), conn, redis_client, keys) == 0
        audited = await conn.fetchval("SELECT detail->>'rows' FROM audit_log WHERE actor = $1"
                                      " AND action = 'national_ids_export' AND event_id = $2", admin,
                                      scenario.event_id)
    assert audited == str(len(imported))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_bytes().decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "志工編號,姓名,紀錄冊編號,身分證字號" and len(lines) == 1 + len(imported)
    for vid, national_id in imported.items():
        assert f"{vid},志工{int(vid[-4:]):03d}號,,{national_id}" in lines


async def test_a_coordinator_cannot_export(imported: dict[str, str], scenario: Scenario, pg_pool: asyncpg.Pool,
                                           redis_client: aioredis.Redis, keys: Keys, cfg: Config,
                                           tmp_path: Path) -> None:
    out = tmp_path / "ids.csv"
    async with pg_pool.acquire() as conn:
        coordinator, _ = await add_user(conn, "協調員", "coordinator", scenario.event_id)
        with pytest.raises(NotAllowed):
            await national_id_rows(conn, scenario.event_id, coordinator, cfg.pii_key_path)
        args = argparse.Namespace(event=scenario.event_id, out=str(out), actor=coordinator)
        assert await cmd_export_national_ids(cfg, args, conn, redis_client, keys) == 1
        refused = await conn.fetchval("SELECT count(*) FROM audit_log WHERE actor = $1"
                                      " AND action = 'national_ids_export_refused'", coordinator)
    assert not out.exists() and refused == 2


def replace_actor(args: argparse.Namespace, actor: str) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "actor": actor})
