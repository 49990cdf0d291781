"""`checkin plan ...`: import an event plan (event, zones, gates, shifts, assignments) or print an example."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from checkin.config import Config
from checkin.events.plan import Plan, Problem, parse_plan
from checkin.events.plan_store import PlanRefused, PlanReport, apply_plan
from checkin.keys import Keys

EXAMPLE_PLAN = """\
// An event plan for `checkin plan import`. Whole-line // comments are allowed; everything else is JSON.
// Importing the same plan again changes nothing; a plan with any problem is refused whole.
// Re-importing changes only what the plan mentions: leave a setting out and its stored value stays
// (on a new event, the default shown here). The import lists every field it changed.
{
  "event": {
    // id: letters, digits, - and _ (it names the event in every command and on the gates)
    "id": "lantern2024",
    "name": "2024 台灣燈會",
    "starts_on": "2024-02-24",
    "ends_on": "2024-03-10",
    "tz": "Asia/Taipei",
    // optional, like every setting in it; the values shown are the defaults
    "policy": {
      // --- at the gate (checkin/scan/rules.py Policy) ---
      // a second scan of the same card within this many seconds is a duplicate, at any gate
      "debounce_s": 60,
      // accident insurance missing on the day: "block" refuses the scan, "warn" lets it in with a warning, "off"
      "insurance": "warn",
      // a check-in this many minutes before a shift starts, or after it ends, is still inside it
      "shift_early_min": 60,
      "shift_late_min": 60,
      // a live scan whose device clock is off by more than this takes the server's time; a journal scan
      // stamped more than this past the server clock is refused (scan_in_future)
      "clock_skew_s": 120,
      // scans count from this many minutes before the first day to this many after the last; outside, they
      // are refused (outside_event_dates)
      "scan_margin_min": 720,
      // rest limits in minutes, 0 for none: a longer session or day is warned at the gate (over_rest_limit);
      // the senior_ ones apply to volunteers aged 65 and over when stricter
      "max_continuous_min": 0,
      "max_daily_min": 0,
      "senior_max_continuous_min": 0,
      "senior_max_daily_min": 0,
      // at an auto gate, a check-out less than this many minutes after the check-in (0: never) must be confirmed
      // by a second scan within confirm_s seconds; the first answers duplicate / confirm_checkout
      "min_session_min": 0,
      "confirm_s": 30,
      // the kiosk shows each answer at least this many milliseconds before the next replaces it
      "answer_min_ms": 2500,
      // --- at the gate and the desk ---
      // minutes a kiosk may annul its own last scan; after that only a coordinator may
      "undo_window_min": 15,
      // --- hours (checkin/hours/model.py HoursPolicy); each field left out keeps its stored value ---
      "hours": {
        // a service day runs from this hour to the same hour next day, local time
        "day_starts_hour": 4,
        // credited time is rounded to this many minutes, "down" or to the "nearest", per "day" or "session"
        "rounding_step_minutes": 30,
        "rounding_mode": "down",
        "rounding_scope": "day",
        // sessions shorter than this credit nothing
        "min_session_minutes": 0,
        // at most this many minutes a service day (null: no cap)
        "daily_cap_minutes": null,
        // scans this many seconds apart are one double scan (left out: debounce_s)
        "double_scan_seconds": 60,
        // a check-out with no check-in: "ignore" it, or credit "from_shift_start"
        "unpaired_checkout": "ignore",
        // a check-in never checked out: "close_at_shift_end", or "leave_open" (credits nothing)
        "missing_checkout": "close_at_shift_end",
        // deduct break_minutes from each session longer than break_after_hours (null: no break)
        "break_minutes": 0,
        "break_after_hours": null,
        // a session longer than this many hours is flagged for the office
        "overlong_hours": 12.0,
        // a scan this many minutes outside a shift is flagged as outside it
        "shift_tolerance_minutes": 60,
        // this many duplicates of one volunteer in a day are flagged
        "many_duplicates": 5,
        // scans made with a revoked card credit hours only when true
        "count_revoked": false
      },
      // the record book counts only trained, insured service: "enforce" leaves other days out of the
      // records export (an admin may accept a day); "off" exports every day
      "record_rules": "off"
    }
  },
  "zones": [
    {"id": "main", "name": "主燈區"},
    {"id": "station", "name": "高鐵站轉運"}
  ],
  "gates": [
    // mode: entry, exit or auto (one gate for both: a scan checks in, the next checks out); a kiosk may
    // narrow an auto gate to entry or exit, never the other way. Left out: "auto" on a new gate, else kept.
    {"id": "main-n", "zone_id": "main", "name": "主燈區北門", "mode": "entry"},
    {"id": "main-s", "zone_id": "main", "name": "主燈區南門", "mode": "exit"},
    {"id": "station-desk", "zone_id": "station", "name": "轉運站服務台", "mode": "auto"}
  ],
  "shifts": [
    // times with their UTC offset; required: how many volunteers the shift needs (left out: 0, or kept)
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
    for change in report.changes:
        print(f"  changed {change}")
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
