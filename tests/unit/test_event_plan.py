"""The event plan parser: a good plan, each kind of problem named by its path, all problems at once."""

from __future__ import annotations

import argparse
import copy
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from checkin.cli.plan import EXAMPLE_PLAN, plan_check
from checkin.events.plan import parse_plan, strip_comments


def good() -> dict[str, Any]:
    return {
        "event": {"id": "lantern2024", "name": "2024 台灣燈會", "starts_on": "2024-02-24", "ends_on": "2024-03-10",
                  "tz": "Asia/Taipei", "policy": {"insurance": "block", "debounce_s": 30}},
        "zones": [{"id": "main", "name": "主燈區"}, {"id": "north", "name": "北區"}],
        "gates": [{"id": "main-n", "zone_id": "main", "name": "北門", "mode": "entry"},
                  {"id": "north-1", "zone_id": "north", "name": "北區服務台"}],
        "shifts": [{"id": "am", "zone_id": "main", "name": "早班", "starts_at": "2024-02-24T09:00+08:00",
                    "ends_at": "2024-02-24T14:00+08:00", "required": 3}],
        "assignments": {"am": ["V000001", "1100000002"]},
    }


def problems(plan: Any) -> list[str]:
    parsed = parse_plan(orjson.dumps(plan))
    assert parsed.plan is None
    return [str(p) for p in parsed.problems]


def test_good_plan() -> None:
    parsed = parse_plan(orjson.dumps(good()))
    assert parsed.ok and parsed.plan is not None, parsed.problems
    plan = parsed.plan
    assert plan.event.event_id == "lantern2024" and plan.event.starts_on == date(2024, 2, 24)
    assert plan.event.policy.insurance == "block" and plan.event.policy.debounce_s == 30
    assert plan.event.policy.tz == "Asia/Taipei"
    assert [z.zone_id for z in plan.zones] == ["main", "north"]
    assert [(g.gate_id, g.mode) for g in plan.gates] == [("main-n", "entry"), ("north-1", "auto")]
    (shift,) = plan.shifts
    assert shift.starts_at == datetime(2024, 2, 24, 1, 0, tzinfo=UTC) and shift.required == 3
    assert plan.assignments == {"am": ["V000001", "1100000002"]}


def test_the_printed_example_is_a_good_plan() -> None:
    parsed = parse_plan(EXAMPLE_PLAN)
    assert parsed.ok, parsed.problems


def test_comments_are_whole_lines_only() -> None:
    text = '// a comment\n{"a": "http://x//y"}\n  // another'
    assert orjson.loads(strip_comments(text)) == {"a": "http://x//y"}


PROBLEM_EDITS = [
    (lambda p: p["gates"][1].update(zone_id="south"), "gates[1].zone_id: no zone 'south'"),
    (lambda p: p["shifts"][0].update(zone_id="south"), "shifts[0].zone_id: no zone 'south'"),
    (lambda p: p["zones"].append({"id": "main", "name": "again"}), "zones[2].id: duplicate zone 'main' (also zones[0])"),
    (lambda p: p["gates"].append(dict(p["gates"][0])), "gates[2].id: duplicate gate 'main-n' (also gates[0])"),
    (lambda p: p["gates"][0].update(mode="both"), "gates[0].mode: 'both' is not one of entry, exit, auto"),
    (lambda p: p["gates"][0].update(id="北門"), "gates[0].id: '北門' is not an id: 1-64 letters, digits, '-' or '_'"),
    (lambda p: p["gates"][0].pop("name"), "gates[0].name: is required"),
    (lambda p: p["gates"][0].update(colour="red"), "gates[0].colour: unknown field"),
    (lambda p: p["event"].update(id="a b"), "event.id: 'a b' is not an id"),
    (lambda p: p["event"].update(starts_on="2024-02-30"), "event.starts_on: '2024-02-30' is not a date"),
    (lambda p: p["event"].update(ends_on="2024-01-01"), "event.ends_on: 2024-01-01 is before starts_on 2024-02-24"),
    (lambda p: p["event"].update(tz="Asia/Nowhere"), "event.tz: 'Asia/Nowhere' is not a time zone"),
    (lambda p: p["event"].update(tz="x" * 1001), "event.tz: 'xxx"),
    (lambda p: p["event"]["policy"].update(insurance="maybe"), "event.policy: insurance must be block, warn or off"),
    (lambda p: p["event"]["policy"].update(debounce_s=-1), "event.policy: debounce_s must be a whole number >= 0"),
    (lambda p: p["shifts"][0].update(starts_at="2024-02-24T09:00"), "shifts[0].starts_at: '2024-02-24T09:00' has no UTC"),
    (lambda p: p["shifts"][0].update(ends_at="2024-02-24T08:00+08:00"), "shifts[0].ends_at: 2024-02-24T08:00:00+08:00 is"
                                                                          " not after starts_at"),
    (lambda p: p["shifts"][0].update(starts_at="2024-03-11T09:00+08:00", ends_at="2024-03-11T10:00+08:00"),
     "shifts[0].starts_at: 2024-03-11 (Asia/Taipei) is outside the event"),
    (lambda p: p["shifts"][0].update(required=True), "shifts[0].required: must be a whole number >= 0"),
    # Year 1 at +08:00 falls before year 1 in UTC: refused as a problem rather than raising OverflowError.
    (lambda p: p["shifts"][0].update(starts_at="0001-01-01T00:00+08:00"), "shifts[0].starts_at: '0001-01-01T00:00+08:00'"
                                                                          " is out of range"),
    (lambda p: p["assignments"].update(pm=["V1"]), "assignments.pm: no shift 'pm' in shifts"),
    (lambda p: p["assignments"]["am"].append("V000001"), "assignments.am[2]: 'V000001' is listed twice (also [0])"),
    (lambda p: p["assignments"]["am"].append(7), "assignments.am[2]: must be a volunteer id or record book number"),
    (lambda p: p.update(assignments=["V1"]), "assignments: must be an object"),
    (lambda p: p.pop("zones"), "zones: is required"),
    (lambda p: p.pop("event"), "event: is required"),
    (lambda p: p.update(gates={}), "gates: must be a list"),
]


@pytest.mark.parametrize(("edit", "expected"), PROBLEM_EDITS)
def test_each_problem_is_named_by_its_path(edit: Any, expected: str) -> None:
    plan = copy.deepcopy(good())
    edit(plan)
    found = problems(plan)
    assert any(p.startswith(expected) for p in found), found


CJK = re.compile(r"[\u4e00-\u9fff]")
SETTING_EDITS = [{"hours": {"rounding_mode": "up"}}, {"hours": 5}, {"record_rules": "strict"}, {"debounce_s": -1}]


@pytest.mark.parametrize("edit", [e for e, _ in PROBLEM_EDITS]
                         + [lambda p, s=s: p["event"].update(policy=s) for s in SETTING_EDITS])
def test_each_problem_is_worded_in_traditional_chinese_too(edit: Any) -> None:
    # The console shows message_zh to a clerk reading Chinese: no problem may come without it.
    plan = copy.deepcopy(good())
    edit(plan)
    found = parse_plan(orjson.dumps(plan)).problems
    assert found and all(CJK.search(p.zh) for p in found), found


# Every rule Policy.from_json and HoursPolicy check, broken once: the Chinese wording holds the rule itself, not
# the English one after a Chinese lead-in.
RULE_EDITS = [
    {"insurance": "maybe"}, {"debounce_s": -1}, {"answer_min_ms": "slow"}, {"min_session_min": 5, "confirm_s": 0},
    {"hours": {"rounding_mode": "up"}}, {"hours": {"rounding_step_minutes": 0}}, {"hours": {"day_starts_hour": 24}},
    {"hours": {"overlong_hours": 0}}, {"hours": {"count_revoked": "yes"}}, {"hours": {"break_after_hours": -1}},
]


@pytest.mark.parametrize("settings", RULE_EDITS)
def test_a_broken_setting_rule_is_worded_in_chinese(settings: dict[str, Any]) -> None:
    plan = copy.deepcopy(good())
    plan["event"]["policy"] = settings
    (problem,) = parse_plan(orjson.dumps(plan)).problems
    assert problem.path.startswith("event.policy")
    assert "須為" in problem.zh and not re.search(r"\bmust\b|\bgot\b", problem.zh), problem


def test_not_json_is_worded_in_chinese_too() -> None:
    (problem,) = parse_plan(b"{").problems
    assert problem.zh.startswith("不是有效的 JSON")


def test_every_problem_at_once() -> None:
    plan = good()
    plan["event"]["tz"] = "Nowhere"
    plan["gates"][0]["zone_id"] = "south"
    plan["gates"][1]["mode"] = "sideways"
    plan["shifts"][0]["required"] = -2
    plan["assignments"]["night"] = []
    found = problems(plan)
    assert [p.split(":")[0] for p in found] == [
        "event.tz", "gates[0].zone_id", "gates[1].mode", "shifts[0].required", "assignments.night"], found


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'"plan"', "\ufeff{".encode()])
def test_not_a_plan_is_a_problem_not_an_exception(data: bytes) -> None:
    parsed = parse_plan(data)
    assert parsed.plan is None and parsed.problems


def test_plan_check_answers_for_a_good_file_a_bad_one_and_none(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "plan.json", tmp_path / "bad.json"
    good.write_text(EXAMPLE_PLAN, encoding="utf-8")
    bad.write_text('{"event": {}}', encoding="utf-8")
    assert plan_check(None, argparse.Namespace(file=str(good))) == 0  # type: ignore[arg-type]
    assert ": ok: event " in capsys.readouterr().out
    assert plan_check(None, argparse.Namespace(file=str(bad))) == 1  # type: ignore[arg-type]
    assert "refused, nothing was imported" in capsys.readouterr().err
    assert plan_check(None, argparse.Namespace(file=str(tmp_path / "none.json"))) == 2  # type: ignore[arg-type]
    assert "no such file" in capsys.readouterr().err


def test_the_example_shows_every_setting_at_its_default() -> None:
    from dataclasses import fields

    from checkin.access.operations import DEFAULT_UNDO_WINDOW_MIN
    from checkin.hours.model import HoursPolicy
    from checkin.scan.rules import Policy

    parsed = parse_plan(EXAMPLE_PLAN)
    assert parsed.plan is not None
    settings = parsed.plan.event.settings
    gate = {f.name: getattr(Policy(), f.name) for f in fields(Policy) if f.name != "tz"}
    hours = {f.name: getattr(HoursPolicy(), f.name) for f in fields(HoursPolicy) if f.name != "timezone"}
    assert {k: v for k, v in settings.items() if k in gate} == gate
    assert settings["hours"] == hours
    assert (settings["undo_window_min"], settings["record_rules"]) == (DEFAULT_UNDO_WINDOW_MIN, "off")
    assert set(settings) == {*gate, "hours", "undo_window_min", "record_rules"}
    lines = EXAMPLE_PLAN.splitlines()
    for name in [*gate, *hours, "undo_window_min", "record_rules"]:  # each in a group under a comment
        at = next(i for i, line in enumerate(lines) if line.strip().startswith(f'"{name}"'))
        while lines[at - 1].strip().startswith('"'):
            at -= 1
        assert lines[at - 1].strip().startswith("//"), name


def test_only_the_settings_a_plan_names_are_carried() -> None:
    plan = good()
    plan["event"].pop("tz")
    plan["event"]["policy"] = {"debounce_s": 30, "hours": {"rounding_step_minutes": 15}}
    parsed = parse_plan(orjson.dumps(plan))
    assert parsed.plan is not None, parsed.problems
    event = parsed.plan.event
    assert event.settings == {"debounce_s": 30, "hours": {"rounding_step_minutes": 15}}
    assert not event.tz_given and event.tz == "Asia/Taipei"
    assert [g.mode_given for g in parsed.plan.gates] == [True, False]
    assert [s.required_given for s in parsed.plan.shifts] == [True]


@pytest.mark.parametrize(("policy", "expected"), [
    ({"hours": {"rounding_mode": "up"}}, "event.policy.hours: rounding_mode must be one of down, nearest"),
    ({"hours": {"lunch": 1}}, "event.policy.hours.lunch: unknown field"),
    ({"hours": {"timezone": "UTC"}}, "event.policy.hours.timezone: unknown field"),
    ({"hours": 5}, "event.policy.hours: must be an object"),
    ({"undo_window_min": -1}, "event.policy.undo_window_min: must be a whole number >= 0"),
    ({"record_rules": "strict"}, "event.policy.record_rules: must be one of enforce, off"),
    ({"scan_margin_min": "a day"}, "event.policy: scan_margin_min must be a whole number >= 0"),
    ({"answer_min_ms": -1}, "event.policy: answer_min_ms must be a whole number >= 0"),
    ({"min_session_min": 10, "confirm_s": 0}, "event.policy: confirm_s must be at least 1 when min_session_min"),
])
def test_each_setting_problem_is_named(policy: dict[str, Any], expected: str) -> None:
    plan = good()
    plan["event"]["policy"] = policy
    found = problems(plan)
    assert any(p.startswith(expected) for p in found), found


def test_a_null_setting_is_no_change_and_every_other_difference_is_named() -> None:
    from checkin.events.plan_store import _differences

    old = {"name": "燈會", "policy": {"debounce_s": 60, "hours": {"rounding_step_minutes": 30}}}
    new = {"name": "燈會", "policy": {"debounce_s": 30, "hours": {"rounding_step_minutes": 30,
                                                                   "daily_cap_minutes": None, "break_minutes": 15}}}
    assert _differences("event", old, new) == ["event.policy.debounce_s: 60 -> 30",
                                                "event.policy.hours.break_minutes: (unset) -> 15"]
    assert _differences("event", old, old) == []
