"""Record-book rules against Postgres: untrained and uninsured volunteers' hours are left out with the reason
until an admin accepts them; a coordinator cannot accept; acceptances are append-only and audited."""

from __future__ import annotations

import argparse
import csv
import json
import secrets
from pathlib import Path

import asyncpg
import pytest

import checkin.cli.reconcile as cli
from checkin.reconcile.store import NotAllowed, accept_record
from tests.integration.test_reconcile import DAY, Event, add_scan, make_event, t


@pytest.fixture
async def conn(pg_pool: asyncpg.Pool) -> asyncpg.Connection:
    async with pg_pool.acquire() as c:
        yield c


async def _enforced_event(conn: asyncpg.Connection) -> tuple[Event, str]:
    """Three volunteers who served 09:00-12:00: trained and insured, untrained, uninsured; and an admin."""
    ev = await make_event(conn, volunteers=3, policy={"record_rules": "enforce"})
    ok, untrained, uninsured = ev.volunteers
    await conn.execute("UPDATE volunteers SET training_basic = true, training_special = true,"
                       " insured_from = $2, insured_to = $2 WHERE volunteer_id = ANY($1)", [ok, uninsured], DAY)
    await conn.execute("UPDATE volunteers SET insured_from = $2, insured_to = $3 WHERE volunteer_id = $1", uninsured,
                       DAY.replace(month=1, day=1), DAY.replace(day=23))  # insurance ended the day before
    await conn.execute("UPDATE volunteers SET insured_from = $2, insured_to = $2 WHERE volunteer_id = $1",
                       untrained, DAY)
    for vid in ev.volunteers:
        await add_scan(conn, ev, vid, t(9))
        await add_scan(conn, ev, vid, t(12), "checked_out")
    admin = f"admin-{secrets.token_hex(4)}"
    await conn.execute("INSERT INTO users (user_id, name, role, token_hash) VALUES ($1, '管理員', 'admin', $1)", admin)
    return ev, admin


async def _export(conn: asyncpg.Connection, ev: Event, kind: str, path: Path) -> list[list[str]]:
    args = argparse.Namespace(event=ev.event_id, quiet=True, kind=kind, out=str(path))
    assert await cli.cmd_export(None, args, conn, None, None) == 0  # type: ignore[arg-type]
    return list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))[1:]


async def test_untrained_and_uninsured_hours_are_left_out_until_an_admin_accepts(
    conn: asyncpg.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    ev, admin = await _enforced_event(conn)
    assert [r[0] for r in await _export(conn, ev, "records", tmp_path / "r.csv")] == ["志工0"]
    assert "2 service day(s) left out" in capsys.readouterr().out
    excluded = await _export(conn, ev, "excluded", tmp_path / "x.csv")
    assert [(r[0], r[2], r[3], r[4]) for r in excluded] == [
        ("志工1", "2024-02-24", "3", "untrained"), ("志工2", "2024-02-24", "3", "uninsured")]

    _, untrained, uninsured = ev.volunteers
    with pytest.raises(NotAllowed):  # a coordinator of the event may correct, but not accept
        await accept_record(conn, ev.event_id, untrained, DAY, ev.office, "訓練證明後補")
    assert len(await _export(conn, ev, "records", tmp_path / "r.csv")) == 1
    with pytest.raises(ValueError, match="reason"):
        await accept_record(conn, ev.event_id, untrained, DAY, admin, "  ")

    await accept_record(conn, ev.event_id, untrained, DAY, admin, "訓練證明後補")
    args = argparse.Namespace(event=ev.event_id, volunteer=uninsured, day="2024-02-24", reason="保險已追溯",
                              actor=admin)
    assert await cli.cmd_accept_record(None, args, conn, None, None) == 0  # type: ignore[arg-type]
    assert [(r[0], r[3]) for r in await _export(conn, ev, "records", tmp_path / "r.csv")] == [
        ("志工0", "3"), ("志工1", "3"), ("志工2", "3")]
    assert await _export(conn, ev, "excluded", tmp_path / "x.csv") == []

    audit = await conn.fetch("SELECT actor, action, detail::text FROM audit_log WHERE event_id = $1"
                             " AND action LIKE 'record_accept%' ORDER BY audit_id", ev.event_id)
    assert [(r[0], r[1]) for r in audit] == [(ev.office, "record_accept_refused"), (admin, "record_accept"),
                                             (admin, "record_accept")]
    assert json.loads(audit[1][2])["reason"] == "訓練證明後補"


async def test_a_coordinator_is_refused_by_the_cli(conn: asyncpg.Connection) -> None:
    ev, _ = await _enforced_event(conn)
    args = argparse.Namespace(event=ev.event_id, volunteer=ev.volunteers[1], day="2024-02-24", reason="x",
                              actor=ev.office)
    assert await cli.cmd_accept_record(None, args, conn, None, None) == 1  # type: ignore[arg-type]
    assert await conn.fetchval("SELECT count(*) FROM acceptances WHERE event_id = $1", ev.event_id) == 0


async def test_acceptances_are_append_only(conn: asyncpg.Connection) -> None:
    ev, admin = await _enforced_event(conn)
    await accept_record(conn, ev.event_id, ev.volunteers[1], DAY, admin, "訓練證明後補")
    for sql in ("UPDATE acceptances SET reason = 'x' WHERE event_id = $1", "DELETE FROM acceptances WHERE event_id = $1"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(sql, ev.event_id)


async def test_without_the_policy_the_record_book_is_unchanged(conn: asyncpg.Connection, tmp_path: Path) -> None:
    ev = await make_event(conn, volunteers=1)  # untrained and uninsured, but the event does not enforce the rules
    await add_scan(conn, ev, ev.volunteers[0], t(9))
    await add_scan(conn, ev, ev.volunteers[0], t(12), "checked_out")
    assert len(await _export(conn, ev, "records", tmp_path / "r.csv")) == 1


async def test_honors_count_only_record_book_hours(conn: asyncpg.Connection, capsys: pytest.CaptureFixture[str]) -> None:
    ev, _ = await _enforced_event(conn)
    args = argparse.Namespace(tiers="1,4", events=ev.event_id, out=None, quiet=True)
    assert await cli.cmd_honors(None, args, conn, None, None) == 0  # type: ignore[arg-type]
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0][:4] == ["volunteer_id", "姓名", "紀錄冊編號", "award"]
    # only the trained and insured volunteer's 3 hours count: the 1-hour tier, not the 4-hour one nor the card
    assert [(r[1], r[3], r[4], r[5]) for r in rows[1:]] == [("志工0", "hours_1", "2024-02-24", "3")]
