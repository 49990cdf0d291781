"""`checkin plan ...`: import an event plan (event, zones, gates, shifts, assignments) or print an example."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from checkin.config import Config
from checkin.event_plan import Plan, Problem, parse_plan
from checkin.event_plan_store import PlanRefused, PlanReport, apply_plan
from checkin.keys import Keys

EXAMPLE_PLAN = """\
// An event plan for `checkin plan import`. Whole-line // comments are allowed; everything else is JSON.
// Importing the same plan again changes nothing; a plan with any problem is refused whole.
{
  "event": {
    // id: letters, digits, - and _ (it names the event in every command and on the gates)
    "id": "lantern2024",
    "name": "2024 台灣燈會",
    "starts_on": "2024-02-24",
    "ends_on": "2024-03-10",
    "tz": "Asia/Taipei",
    // optional; a field left out keeps its default (the fields of Policy in checkin/rules.py)
    "policy": {"insurance": "warn", "debounce_s": 60, "shift_early_min": 60, "shift_late_min": 60}
  },
  "zones": [
    {"id": "main", "name": "主燈區"},
    {"id": "station", "name": "高鐵站轉運"}
  ],
  "gates": [
    // mode: entry, exit or auto (one gate for both: a scan checks in, the next checks out)
    {"id": "main-n", "zone_id": "main", "name": "主燈區北門", "mode": "entry"},
    {"id": "main-s", "zone_id": "main", "name": "主燈區南門", "mode": "exit"},
    {"id": "station-desk", "zone_id": "station", "name": "轉運站服務台", "mode": "auto"}
  ],
  "shifts": [
    // times with their UTC offset; required: how many volunteers the shift needs
    {"id": "main-0224-am", "zone_id": "main", "name": "主燈區早班",
     "starts_at": "2024-02-24T09:00+08:00", "ends_at": "2024-02-24T14:00+08:00", "required": 2},
    {"id": "station-0224-ev", "zone_id": "station", "name": "轉運站晚班",
     "starts_at": "2024-02-24T17:00+08:00", "ends_at": "2024-02-24T23:00+08:00", "required": 1}
  ],
  // shift id -> volunteer ids or record book numbers (志願服務紀錄冊號碼) from the imported roster.
  // A shift listed here gets exactly these volunteers; shifts not listed keep theirs.
  "assignments": {
    "main-0224-am": ["V000001", "V000002"],
    "station-0224-ev": ["V000003"]
  }
}
"""


def _problems(path: Path, problems: list[Problem]) -> None:
    print(f"{path}: refused, nothing was imported; {len(problems)} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


def _report(report: PlanReport, event_id: str) -> None:
    print(f"event {event_id} ({report.status}): {report.event}" + ("" if report.changed else "; nothing changed"))
    for name in ("zones", "gates", "shifts"):
        c = getattr(report, name)
        print(f"  {name:<7} inserted {c.inserted:>4}  updated {c.updated:>4}  unchanged {c.unchanged:>4}")
    print(f"  assignments added {report.assigned}, removed {report.unassigned}, unchanged {report.kept}")
    if report.roster_size is not None:
        print(f"  reloaded into Redis: {report.roster_size} cards on the gate roster")
    elif report.status == "draft":
        print(f"  next: checkin cards issue --event {event_id}; checkin event open {event_id}")


def _read_plan(path: Path) -> Plan | int:
    """The plan in a file, or the exit code after saying what is wrong (2: no file, 1: problems listed)."""
    if not path.is_file():
        print(f"checkin: error: no such file: {path}", file=sys.stderr)
        return 2
    parsed = parse_plan(path.read_bytes())
    if parsed.plan is None:
        _problems(path, parsed.problems)
        return 1
    return parsed.plan


async def plan_import(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                      redis: aioredis.Redis, keys: Keys) -> int:
    path = Path(args.file)
    plan = _read_plan(path)
    if isinstance(plan, int):
        return plan
    try:
        report = await apply_plan(conn, redis, keys, plan)
    except PlanRefused as refused:
        _problems(path, refused.problems)
        return 1
    _report(report, plan.event.event_id)
    return 0


def plan_example(cfg: Config, args: argparse.Namespace) -> int:
    sys.stdout.write(EXAMPLE_PLAN)
    return 0


def plan_check(cfg: Config, args: argparse.Namespace) -> int:
    """Check a plan's shape without a database (volunteers and ids of other events are checked on import)."""
    path = Path(args.file)
    plan = _read_plan(path)
    if isinstance(plan, int):
        return plan
    print(f"{path}: ok: event {plan.event.event_id}, {len(plan.zones)} zone(s), {len(plan.gates)} gate(s),"
          f" {len(plan.shifts)} shift(s), {sum(map(len, plan.assignments.values()))} assignment(s)")
    return 0


def add_parsers(sub: Any, run: Any) -> None:
    plan = sub.add_parser("plan", help="event plans: event, zones, gates, shifts and assignments from a JSON file")
    cmds = plan.add_subparsers(dest="plan_cmd", required=True)
    p = cmds.add_parser("import", help="create or update an event from a plan (all or nothing; re-import is a no-op)")
    p.add_argument("file", help="the plan, JSON (see `checkin plan example`)")
    p.set_defaults(func=run, action=plan_import)
    p = cmds.add_parser("check", help="check a plan's shape without touching the database")
    p.add_argument("file")
    p.set_defaults(func=plan_check)
    cmds.add_parser("example", help="print a commented example plan").set_defaults(func=plan_example)
