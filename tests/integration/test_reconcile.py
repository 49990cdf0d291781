"""Reconciliation against a real Postgres: the log streamed, hours derived, corrections audited, approvals, export."""

from __future__ import annotations

import csv
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from checkin.hours.model import HoursPolicy
from checkin.reconcile.store import (
    RECORD_HEADER,
    DayApproved,
    NotAllowed,
    add_correction,
    approve,
    by_volunteer,
    export_records_csv,
    load_event_log,
    load_policy,
    load_record_entries,
    reconcile_event,
)

TZ = ZoneInfo("Asia/Taipei")
DAY = date(2024, 2, 24)


def t(hh: int, mm: int = 0, day: int = 24) -> datetime:
    return datetime(2024, 2, day, hh, mm, tzinfo=TZ)


@dataclass
class Event:
    event_id: str
    team_id: str
    volunteers: list[str]
    office: str  # a coordinator of the event: may correct and approve


async def make_event(conn: asyncpg.Connection, volunteers: int = 3, policy: dict[str, object] | None = None) -> Event:
    tag = secrets.token_hex(4)
    ev, team, unit = f"rec-{tag}", f"T-rec-{tag}", f"U-rec-{tag}"
    await conn.execute("INSERT INTO events (event_id, name, starts_on, ends_on, policy) VALUES ($1, $2, $3, $4,"
                       " $5::text::jsonb)", ev, "台灣燈會", DAY, date(2024, 2, 26), json.dumps(policy or {}))
    await conn.execute("INSERT INTO zones VALUES ($1, 'Z1', '主燈區'), ($1, 'Z2', '副燈區')", ev)
    await conn.execute("INSERT INTO gates (gate_id, event_id, zone_id, name) VALUES ($1, $2, 'Z1', 'A'),"
                       " ($3, $2, 'Z2', 'B')", f"G1-{tag}", ev, f"G2-{tag}")
    await conn.execute("INSERT INTO shifts (shift_id, event_id, zone_id, name, starts_at, ends_at)"
                       " VALUES ($1, $2, 'Z1', '白班', $3, $4)", f"S-{tag}", ev, t(9), t(17))
    await conn.execute("INSERT INTO units VALUES ($1, '臺北市政府觀光傳播局')", unit)
    await conn.execute("INSERT INTO teams VALUES ($1, '燈會志工隊', $2)", team, unit)
    ids = [f"V-{tag}-{i}" for i in range(volunteers)]
    for i, vid in enumerate(ids):
        await conn.execute("INSERT INTO volunteers (volunteer_id, name, team_id, birth_year, record_book_no)"
                           " VALUES ($1, $2, $3, 1950, $4)", vid, f"志工{i}", team, f"RB-{tag}-{i}")
        await conn.execute("INSERT INTO assignments VALUES ($1, $2, $3)", ev, vid, f"S-{tag}")
    office = f"office-{tag}"
    await conn.execute("INSERT INTO users (user_id, name, role, event_id, token_hash)"
                       " VALUES ($1, '辦公室', 'coordinator', $2, $1)", office, ev)
    return Event(ev, team, ids, office)


async def add_scan(conn: asyncpg.Connection, ev: Event, vid: str, at: datetime, verdict: str = "checked_in",
                   gate: str = "G1") -> str:
    scan_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO scans (scan_id, event_id, device_id, seq, gate_id, volunteer_id, scanned_at, received_at,"
        " verdict) VALUES ($1, $2, 'dev', 1, $3, $4, $5, $5, $6)",
        uuid.UUID(scan_id), ev.event_id, f"{gate}-{ev.event_id.removeprefix('rec-')}", vid, at, verdict,
    )
    return scan_id


@pytest.fixture
async def conn(pg_pool: asyncpg.Pool) -> asyncpg.Connection:
    async with pg_pool.acquire() as c:
        yield c


async def test_reconcile_event_derives_hours_from_the_log(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn, policy={"debounce_s": 60, "hours": {"rounding_step_minutes": 15}})
    a, b, c = ev.volunteers
    await add_scan(conn, ev, a, t(9))
    await add_scan(conn, ev, a, t(17), "checked_out")
    await add_scan(conn, ev, b, t(16, 50), "checked_in")  # a late replay: labels backwards
    await add_scan(conn, ev, b, t(10), "checked_out")
    await add_scan(conn, ev, c, t(13), gate="G2")  # forgot to check out, and at another zone's gate
    results = {r.volunteer_id: r for r in await reconcile_event(conn, ev.event_id, progress=False)}
    assert {v: r.total_minutes for v, r in results.items()} == {a: 480, b: 405, c: 240}
    assert {x.kind for x in results[c].anomalies} == {"missing_checkout", "wrong_zone"}


async def annul(conn: asyncpg.Connection, ev: Event, vid: str, scan_id: str, verdict: str, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO annulments (scan_id, event_id, volunteer_id, verdict, scanned_at, actor, actor_kind, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'user', '刷錯人')", uuid.UUID(scan_id), ev.event_id, vid, verdict, at, ev.office)


async def test_an_annulled_check_in_takes_its_check_out_with_it(conn: asyncpg.Connection) -> None:
    # The reported case: a mid-day check-in annulled after its check-out; the later 3 minutes stay 3 minutes.
    ev = await make_event(conn, policy={"hours": {"rounding_step_minutes": 1}})
    vid = ev.volunteers[0]
    wrong = await add_scan(conn, ev, vid, t(9))
    await add_scan(conn, ev, vid, t(15), "checked_out")
    await add_scan(conn, ev, vid, t(16))
    await add_scan(conn, ev, vid, t(16, 3), "checked_out")
    await annul(conn, ev, vid, wrong, "checked_in", t(9))
    scans = [s async for s in load_event_log(conn, ev.event_id)]
    assert [s.annulled for s in scans if s.volunteer_id == vid] == [True, False, False, False]
    results = {r.volunteer_id: r for r in await reconcile_event(conn, ev.event_id, progress=False)}
    assert results[vid].total_minutes == 3 and results[vid].anomalies == ()


async def test_a_volunteer_on_site_is_no_missing_check_out_until_the_day_ends(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn)
    vid = ev.volunteers[0]
    await add_scan(conn, ev, vid, t(10))
    during = {r.volunteer_id: r for r in await reconcile_event(conn, ev.event_id, progress=False, now=t(15))}
    assert during[vid].anomalies == () and during[vid].total_minutes == 0
    after = {r.volunteer_id: r for r in await reconcile_event(conn, ev.event_id, progress=False, now=t(4, day=25))}
    assert [a.kind for a in after[vid].anomalies] == ["missing_checkout"] and after[vid].total_minutes == 420


async def test_the_log_streams_in_volunteer_and_time_order(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn)
    for vid in reversed(ev.volunteers):
        for hh in (15, 9, 12):
            await add_scan(conn, ev, vid, t(hh))
    groups = [(vid, [s.at.astimezone(TZ).hour for s in scans]) async for vid, scans in by_volunteer(load_event_log(conn, ev.event_id))]
    assert groups == [(vid, [9, 12, 15]) for vid in sorted(ev.volunteers)]


async def test_the_log_streams_in_batches_in_the_events_zone_and_may_stop_early(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn)
    for vid in ev.volunteers:
        for hh in (9, 12, 15):
            await add_scan(conn, ev, vid, t(hh))
    scans = [s async for s in load_event_log(conn, ev.event_id, batch=2, zone=TZ)]
    assert len(scans) == 9 and all(s.at.tzinfo is TZ for s in scans)
    assert [s.at for s in scans] == [t(hh) for _ in ev.volunteers for hh in (9, 12, 15)]
    log = load_event_log(conn, ev.event_id, batch=2)
    async for _ in log:
        break
    await log.aclose()  # a pending batch is awaited, the transaction ends, the connection stays usable
    assert await conn.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", ev.event_id) == 9


async def test_policy_comes_from_the_event(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn, policy={"debounce_s": 90, "hours": {"daily_cap_minutes": 600}})
    assert await load_policy(conn, ev.event_id) == HoursPolicy(daily_cap_minutes=600, double_scan_seconds=90)
    bad = await make_event(conn, policy={"hours": {"roundng": 30}})
    with pytest.raises(ValueError, match="unknown field"):
        await load_policy(conn, bad.event_id)


async def test_corrections_are_stored_audited_and_rederived(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn, volunteers=1)
    (vid,) = ev.volunteers
    key = await add_scan(conn, ev, vid, t(9))
    await add_scan(conn, ev, vid, t(17), "checked_out")
    await add_correction(conn, ev.event_id, vid, action="change", session_key=key, end=t(12),
                         reason="left at noon, per team lead", actor=ev.office)
    added = await add_correction(conn, ev.event_id, vid, action="add", start=t(9, day=25), end=t(11, day=25),
                                 reason="paper sheet, gate offline", actor=ev.office)
    (result,) = await reconcile_event(conn, ev.event_id, progress=False)
    assert {d.day: d.minutes for d in result.days} == {DAY: 180, date(2024, 2, 25): 120}
    row = await conn.fetchrow("SELECT before::text, after::text FROM corrections WHERE session_key = $1", key)
    assert json.loads(row[0])["credited_minutes"] == 480 and json.loads(row[1])["credited_minutes"] == 180
    actions = [r[0] for r in await conn.fetch(
        "SELECT action FROM audit_log WHERE event_id = $1 ORDER BY audit_id", ev.event_id)]
    assert actions == ["correction_change", "correction_add"]
    with pytest.raises(ValueError, match="reason"):
        await add_correction(conn, ev.event_id, vid, action="void", session_key=added.correction_id, reason=" ",
                             actor=ev.office)
    with pytest.raises(ValueError, match="no such session"):
        await add_correction(conn, ev.event_id, vid, action="void", session_key="nope", reason="x", actor=ev.office)


async def test_an_approved_day_needs_an_admin(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn, volunteers=1)
    (vid,) = ev.volunteers
    key = await add_scan(conn, ev, vid, t(9))
    await add_scan(conn, ev, vid, t(17), "checked_out")
    admin = f"admin-{secrets.token_hex(3)}"
    await conn.execute("INSERT INTO users (user_id, name, role, token_hash) VALUES ($1, 'Admin', 'admin', $1)", admin)
    assert await approve(conn, ev.event_id, ev.team_id, DAY, ev.office) is True
    assert await approve(conn, ev.event_id, ev.team_id, DAY, ev.office) is False
    with pytest.raises(DayApproved):
        await add_correction(conn, ev.event_id, vid, action="void", session_key=key, reason="dup", actor=ev.office)
    assert (await reconcile_event(conn, ev.event_id, progress=False))[0].total_minutes == 480
    await add_correction(conn, ev.event_id, vid, action="void", session_key=key, reason="card lent", actor=admin)
    assert (await reconcile_event(conn, ev.event_id, progress=False))[0].total_minutes == 0
    actions = [r[0] for r in await conn.fetch(
        "SELECT action FROM audit_log WHERE event_id = $1 ORDER BY audit_id", ev.event_id)]
    assert actions == ["approve", "approve_again", "correction_refused", "correction_void_override"]


async def test_a_correction_reaching_into_an_approved_day_needs_an_admin(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn, volunteers=1)
    (vid,) = ev.volunteers
    key = await add_scan(conn, ev, vid, t(9))
    await add_scan(conn, ev, vid, t(17), "checked_out")
    await approve(conn, ev.event_id, ev.team_id, date(2024, 2, 25), ev.office)
    with pytest.raises(DayApproved):  # the new end splits the session into the approved 25th
        await add_correction(conn, ev.event_id, vid, action="change", session_key=key, end=t(6, day=25),
                             reason="stayed the night", actor=ev.office)
    (result,) = await reconcile_event(conn, ev.event_id, progress=False)
    assert {d.day: d.minutes for d in result.days} == {DAY: 480}


async def test_only_an_admin_or_the_events_coordinator_may_approve_or_correct(conn: asyncpg.Connection) -> None:
    ev, other = await make_event(conn, volunteers=1), await make_event(conn, volunteers=1)
    key = await add_scan(conn, ev, ev.volunteers[0], t(9))
    for actor in (other.office, "nobody"):
        with pytest.raises(NotAllowed):
            await approve(conn, ev.event_id, ev.team_id, DAY, actor)
        with pytest.raises(NotAllowed):
            await add_correction(conn, ev.event_id, ev.volunteers[0], action="void", session_key=key, reason="x",
                                 actor=actor)
    assert await conn.fetchval("SELECT count(*) FROM approvals WHERE event_id = $1", ev.event_id) == 0
    assert await approve(conn, ev.event_id, ev.team_id, DAY, ev.office) is True
    assert await conn.fetchval("SELECT approved_by FROM approvals WHERE event_id = $1", ev.event_id) == ev.office
    with pytest.raises(LookupError):
        await approve(conn, ev.event_id, "no-such-team", DAY, ev.office)
    with pytest.raises(LookupError):
        await add_correction(conn, ev.event_id, "no-such-volunteer", action="add", start=t(9), end=t(10),
                             reason="paper", actor=ev.office)


async def test_audit_and_corrections_are_append_only(conn: asyncpg.Connection) -> None:
    ev = await make_event(conn, volunteers=1)
    await approve(conn, ev.event_id, ev.team_id, DAY, ev.office)
    await add_correction(conn, ev.event_id, ev.volunteers[0], action="add", start=t(9, day=25), end=t(10, day=25),
                         reason="paper", actor=ev.office)
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE event_id = $1", "DELETE FROM audit_log WHERE event_id = $1",
                "UPDATE corrections SET reason = 'x' WHERE event_id = $1",
                "DELETE FROM corrections WHERE event_id = $1"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(sql, ev.event_id)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute("TRUNCATE audit_log")


async def test_export_records_csv(conn: asyncpg.Connection, tmp_path: Path) -> None:
    ev = await make_event(conn, volunteers=2)
    a, b = ev.volunteers
    await add_scan(conn, ev, a, t(9))
    await add_scan(conn, ev, a, t(12, 30), "checked_out")
    await add_scan(conn, ev, b, t(9))  # forgot to check out: closed at the shift end
    results = await reconcile_event(conn, ev.event_id, progress=False)
    path = tmp_path / "records.csv"
    assert export_records_csv(results, await load_record_entries(conn, ev.event_id), path) == 2
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    tag = ev.event_id.removeprefix("rec-")
    assert rows == [
        list(RECORD_HEADER),
        ["志工0", f"RB-{tag}-0", "2024-02-24", "3.5", "台灣燈會 燈會志工隊", "臺北市政府觀光傳播局"],
        ["志工1", f"RB-{tag}-1", "2024-02-24", "8", "台灣燈會 燈會志工隊", "臺北市政府觀光傳播局"],
    ]


async def test_cli_commands(conn: asyncpg.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The office's commands, run as `checkin` runs them (an action with an open connection)."""
    import argparse

    import checkin.cli.reconcile as cli

    ev = await make_event(conn, volunteers=2)
    a, b = ev.volunteers
    key = await add_scan(conn, ev, a, t(9))
    await add_scan(conn, ev, a, t(17), "checked_out")
    await add_scan(conn, ev, b, t(10))

    async def run(command: object, **kw: object) -> int:
        args = argparse.Namespace(event=ev.event_id, quiet=True, **kw)
        return await command(None, args, conn, None, None)  # type: ignore[operator]

    assert await run(cli.cmd_reconcile) == 0
    out = capsys.readouterr().out
    assert "2 volunteers (2 credited)" in out and "15.00 hours" in out and "missing_checkout" in out
    assert await run(cli.cmd_anomalies, kind=None, all=False) == 0
    assert [x["kind"] for x in json.loads(capsys.readouterr().out)] == ["missing_checkout"]
    assert await run(cli.cmd_correct, volunteer=a, change="change", session=key, start=None, end="2024-02-24T12:00",
                     reason="提早離開", actor=ev.office) == 0
    assert json.loads(capsys.readouterr().out)["total_hours"] == 3
    assert await run(cli.cmd_approve, team=ev.team_id, day="2024-02-24", actor=ev.office) == 0
    assert "approved by" in capsys.readouterr().out
    assert await run(cli.cmd_correct, volunteer=a, change="void", session=key, start=None, end=None,
                     reason="重複", actor=ev.office) == 1  # the day is approved: refused
    out_file = tmp_path / "records.csv"
    assert await run(cli.cmd_export, kind="records", out=str(out_file)) == 0
    assert out_file.read_bytes()[:3] == b"\xef\xbb\xbf"
    rows = list(csv.reader(out_file.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r[0], r[3]) for r in rows[1:]] == [("志工0", "3"), ("志工1", "7")]
    capsys.readouterr()
    assert await run(cli.cmd_export, kind="summary", out=None) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["volunteers"], summary["total_hours"], summary["seniors"]) == (2, 10.0, 2)  # born 1950


async def test_correct_add_change_void_through_the_parser(conn: asyncpg.Connection,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`checkin correct` as typed: argparse builds the arguments, the parsed handler runs with them."""
    from checkin.cli.main import build_parser

    ev = await make_event(conn, volunteers=1)
    (a,) = ev.volunteers
    key = await add_scan(conn, ev, a, t(9))
    await add_scan(conn, ev, a, t(17), "checked_out")

    async def correct(*argv: str) -> dict[str, Any]:
        args = build_parser().parse_args(["correct", "--event", ev.event_id, "--volunteer", a, "--reason", "補登",
                                          "--actor", ev.office, *argv])
        assert await args.action(None, args, conn, None, None) == 0
        return dict(json.loads(capsys.readouterr().out))

    added = await correct("--action", "add", "--start", "2024-02-25T10:00", "--end", "2024-02-25T12:00")
    assert (added["action"], added["total_hours"]) == ("add", 10)
    changed = await correct("--action", "change", "--session", key, "--end", "2024-02-24T13:00")
    assert (changed["action"], changed["session_key"], changed["total_hours"]) == ("change", key, 6)
    voided = await correct("--action", "void", "--session", key)
    assert (voided["action"], voided["total_hours"]) == ("void", 2)
    assert await conn.fetchval("SELECT count(*) FROM corrections WHERE event_id = $1", ev.event_id) == 3


async def test_the_cyclic_collector_is_paused_only_while_reconciling(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    import checkin.reconcile.store as rec

    ev = await make_event(conn, volunteers=1)
    await add_scan(conn, ev, ev.volunteers[0], t(9))
    seen: list[bool] = []

    async def spy(*args: Any, **kw: Any) -> AsyncIterator[Any]:
        seen.append(gc.isenabled())
        async for s in load_event_log(*args, **kw):
            yield s

    monkeypatch.setattr(rec, "load_event_log", spy)
    try:
        assert gc.isenabled()
        await reconcile_event(conn, ev.event_id, progress=False)
        assert seen == [False] and gc.isenabled()
        gc.disable()  # someone else's choice is left alone
        await reconcile_event(conn, ev.event_id, progress=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
