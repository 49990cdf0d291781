"""`checkin plan import`: applying twice changes nothing; a clash is refused whole; the imported event scans."""

from __future__ import annotations

import argparse
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

import checkin.cli.admin as admin
from checkin.access.accounts import enroll_device
from checkin.cli.plan import plan_import
from checkin.config import Config
from checkin.events.plan import parse_plan
from checkin.events.plan_store import PlanRefused, apply_plan
from checkin.gateway.app import create_app
from checkin.keys import Keys
from loadtest.event_factory import Scenario

TZ = ZoneInfo("Asia/Taipei")


async def _volunteers(conn: asyncpg.Connection, tag: str, count: int) -> list[tuple[str, str]]:
    """(volunteer id, record book number) of new volunteers."""
    rows = [(f"P-{tag}-{i}", f"志工{i}號", f"RB{tag}{i:03d}") for i in range(count)]
    await conn.executemany("INSERT INTO volunteers (volunteer_id, name, record_book_no, insured_from, insured_to)"
                           " VALUES ($1, $2, $3, '2000-01-01', '2100-01-01')", rows)
    return [(vid, book) for vid, _, book in rows]


def _plan(tag: str, people: list[tuple[str, str]]) -> dict[str, Any]:
    now = datetime.now(TZ).replace(microsecond=0)
    return {
        "event": {"id": f"plan-{tag}", "name": f"計畫活動 {tag}", "starts_on": str(now.date() - timedelta(days=1)),
                  "ends_on": str(now.date() + timedelta(days=1)), "tz": "Asia/Taipei",
                  "policy": {"insurance": "block", "debounce_s": 30}},
        "zones": [{"id": "main", "name": "主燈區"}, {"id": "north", "name": "北區"}],
        "gates": [{"id": f"{tag}-in", "zone_id": "main", "name": "主燈區入口", "mode": "entry"},
                  {"id": f"{tag}-desk", "zone_id": "north", "name": "北區服務台", "mode": "auto"}],
        "shifts": [{"id": f"{tag}-now", "zone_id": "main", "name": "現在班",
                    "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=4)).isoformat(),
                    "required": 2},
                   {"id": f"{tag}-later", "zone_id": "north", "name": "晚班",
                    "starts_at": (now + timedelta(hours=5)).isoformat(),
                    "ends_at": (now + timedelta(hours=9)).isoformat()}],
        # by volunteer id and by record book number
        "assignments": {f"{tag}-now": [people[0][0], people[1][1]], f"{tag}-later": [people[2][0]]},
    }


async def _snapshot(conn: asyncpg.Connection, event_id: str) -> list[Any]:
    """Every row of the event with its xmin, which changes whenever a row is rewritten, even to equal values."""
    out = []
    for table, order in (("events", "event_id"), ("zones", "zone_id"), ("gates", "gate_id"), ("shifts", "shift_id"),
                         ("assignments", "shift_id, volunteer_id")):
        out.append([tuple(r) for r in await conn.fetch(
            f"SELECT xmin::text, * FROM {table} WHERE event_id = $1 ORDER BY {order}", event_id)])  # noqa: S608
    return out


def _parsed(plan: dict[str, Any]) -> Any:
    parsed = parse_plan(orjson.dumps(plan))
    assert parsed.plan is not None, parsed.problems
    return parsed.plan


async def test_import_twice_changes_nothing(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys,
                                            test_config: Config, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    tag = secrets.token_hex(3)
    async with pg_pool.acquire() as conn:
        people = await _volunteers(conn, tag, 3)
        plan = _plan(tag, people)
        first = await apply_plan(conn, redis_client, keys, _parsed(plan))
        assert first.event == "inserted" and first.changed
        assert (first.zones.inserted, first.gates.inserted, first.shifts.inserted, first.assigned) == (2, 2, 2, 3)
        before = await _snapshot(conn, f"plan-{tag}")
        # rows are (xmin, event_id, volunteer_id, shift_id); the record book number was resolved
        assert sorted(r[2:] for r in before[4]) == [(people[0][0], f"{tag}-now"), (people[1][0], f"{tag}-now"),
                                                    (people[2][0], f"{tag}-later")]

        second = await apply_plan(conn, redis_client, keys, _parsed(plan))
        assert not second.changed and second.event == "unchanged"
        assert (second.zones.unchanged, second.gates.unchanged, second.shifts.unchanged, second.kept) == (2, 2, 2, 3)
        assert await _snapshot(conn, f"plan-{tag}") == before

        # the command says so too
        path = tmp_path / "plan.json"
        path.write_bytes(orjson.dumps(plan))
        assert await plan_import(test_config, argparse.Namespace(file=str(path)), conn, redis_client, keys) == 0
        assert "nothing changed" in capsys.readouterr().out
        assert await _snapshot(conn, f"plan-{tag}") == before


async def test_a_clash_with_the_database_is_refused_whole(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                          keys: Keys, scenario: Scenario) -> None:
    tag = secrets.token_hex(3)
    async with pg_pool.acquire() as conn:
        people = await _volunteers(conn, tag, 3)
        plan = _plan(tag, people)
        plan["gates"][1]["id"] = f"{scenario.event_id}-desk"  # another event's gate
        plan["assignments"][f"{tag}-later"].append("NOBODY-" + tag)
        with pytest.raises(PlanRefused) as refused:
            await apply_plan(conn, redis_client, keys, _parsed(plan))
        assert [str(p) for p in refused.value.problems] == [
            f"gates[1].id: gate '{scenario.event_id}-desk' belongs to event '{scenario.event_id}'",
            f"assignments.{tag}-later[1]: no volunteer with id or record book number 'NOBODY-{tag}'",
        ]
        assert await conn.fetchval("SELECT count(*) FROM events WHERE event_id = $1", f"plan-{tag}") == 0
        assert await conn.fetchval("SELECT event_id FROM gates WHERE gate_id = $1",
                                   f"{scenario.event_id}-desk") == scenario.event_id


async def test_imported_event_issues_opens_and_scans(aiohttp_client, pg_pool: asyncpg.Pool,  # type: ignore[no-untyped-def]
                                                     redis_client: aioredis.Redis, keys: Keys,
                                                     test_config: Config) -> None:
    tag = secrets.token_hex(3)
    event_id = f"plan-{tag}"
    async with pg_pool.acquire() as conn:
        people = await _volunteers(conn, tag, 3)
        plan = _plan(tag, people)
        await apply_plan(conn, redis_client, keys, _parsed(plan))
        # the operator's next two commands, as the CLI runs them
        assert await admin.cards_issue(test_config, argparse.Namespace(event=event_id), conn, redis_client, keys) == 0
        assert await admin.event_status(test_config, argparse.Namespace(event_cmd="open", event=event_id),
                                        conn, redis_client, keys) == 0
        _, token = await enroll_device(conn, redis_client, keys, event_id, f"{tag}-in", "plan kiosk")
        card = await conn.fetchval("SELECT card_text FROM cards WHERE volunteer_id = $1 AND status = 'active'",
                                   people[1][0])
        # the gateway starts after the signing key exists, as a gateway would pick it up within 30 s
        client = await aiohttp_client(create_app(test_config))
        scan = Scenario(event_id, {}, token, "", []).scan(card, f"{tag}-in")
        resp = await client.post("/api/v1/scans", json=scan, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        assert answer["verdict"] == "checked_in", answer
        assert not answer.get("warnings"), answer  # on the planned shift, insured

        # a changed plan reaches the open event's gates: the volunteer taken off the shift is refused
        plan["assignments"][f"{tag}-now"] = [people[0][0]]
        report = await apply_plan(conn, redis_client, keys, _parsed(plan))
        assert report.unassigned == 1 and report.status == "open" and report.roster_size == 2
        scan = Scenario(event_id, {}, token, "", [], seq=1).scan(card, f"{tag}-in")
        resp = await client.post("/api/v1/scans", json=scan, headers={"Authorization": f"Bearer {token}"})
        answer = await resp.json()
        assert answer["verdict"] == "rejected" and answer["reason"] == "not_on_roster", answer


async def test_a_reimport_changes_only_what_the_plan_mentions(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                             keys: Keys, test_config: Config, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from checkin.access.operations import undo_window_min
    from checkin.reconcile.store import load_policy

    tag = secrets.token_hex(3)
    event_id = f"plan-{tag}"
    async with pg_pool.acquire() as conn:
        people = await _volunteers(conn, tag, 3)
        plan = _plan(tag, people)
        plan["event"]["policy"] = {"insurance": "block", "debounce_s": 30, "undo_window_min": 5,
                                   "record_rules": "enforce",
                                   "hours": {"rounding_step_minutes": 15, "daily_cap_minutes": 480}}
        await apply_plan(conn, redis_client, keys, _parsed(plan))
        # set outside any plan: an hours setting and a gate's mode, as an operator might with SQL
        await conn.execute("UPDATE events SET policy = jsonb_set(policy, '{hours,break_minutes}', '30')"
                           " WHERE event_id = $1", event_id)
        before = await _snapshot(conn, event_id)

        # The same plan, minus every setting, the time zone and the gates' modes: nothing changes.
        bare = _plan(tag, people)
        del bare["event"]["policy"], bare["event"]["tz"]
        for gate in bare["gates"]:
            del gate["mode"]
        again = await apply_plan(conn, redis_client, keys, _parsed(bare))
        assert (again.event, again.changes, again.changed) == ("unchanged", [], False)
        assert await _snapshot(conn, event_id) == before
        hours = await load_policy(conn, event_id)
        assert (hours.rounding_step_minutes, hours.daily_cap_minutes, hours.break_minutes) == (15, 480, 30)
        assert await undo_window_min(conn, event_id) == 5
        assert await conn.fetchval("SELECT policy->>'record_rules' FROM events WHERE event_id = $1",
                                   event_id) == "enforce"
        assert await conn.fetchval("SELECT mode FROM gates WHERE gate_id = $1", f"{tag}-in") == "entry"

        # One hours field and one gate mode: exactly those change, and the report names them.
        bare["event"]["policy"] = {"hours": {"rounding_step_minutes": 30}}
        bare["gates"][0]["mode"] = "exit"
        path = tmp_path / "plan.json"
        path.write_bytes(orjson.dumps(bare))
        assert await plan_import(test_config, argparse.Namespace(file=str(path)), conn, redis_client, keys) == 0
        out = capsys.readouterr().out
        changed = [line.strip() for line in out.splitlines() if line.strip().startswith("changed ")]
        assert changed == ["changed event.policy.hours.rounding_step_minutes: 15 -> 30",
                           f'changed gates[{tag}-in].mode: "entry" -> "exit"']
        assert ": updated" in out
        hours = await load_policy(conn, event_id)
        assert (hours.rounding_step_minutes, hours.daily_cap_minutes, hours.break_minutes) == (30, 480, 30)
