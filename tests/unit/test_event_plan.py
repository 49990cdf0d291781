"""The event plan parser: a good plan, each kind of problem named by its path, all problems at once."""

from __future__ import annotations

import argparse
import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from checkin.cli_events import EXAMPLE_PLAN, plan_check
from checkin.event_plan import parse_plan, strip_comments


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


@pytest.mark.parametrize(("edit", "expected"), [
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
    (lambda p: p["event"]["policy"].update(insurance="maybe"), "event.policy: insurance must be block, warn or off"),
    (lambda p: p["event"]["policy"].update(debounce_s=-1), "event.policy: debounce_s must be a whole number >= 0"),
    (lambda p: p["shifts"][0].update(starts_at="2024-02-24T09:00"), "shifts[0].starts_at: '2024-02-24T09:00' has no UTC"),
    (lambda p: p["shifts"][0].update(ends_at="2024-02-24T08:00+08:00"), "shifts[0].ends_at: 2024-02-24T08:00:00+08:00 is"
                                                                          " not after starts_at"),
    (lambda p: p["shifts"][0].update(starts_at="2024-03-11T09:00+08:00", ends_at="2024-03-11T10:00+08:00"),
     "shifts[0].starts_at: 2024-03-11 (Asia/Taipei) is outside the event"),
    (lambda p: p["shifts"][0].update(required=True), "shifts[0].required: must be a whole number >= 0"),
    (lambda p: p["assignments"].update(pm=["V1"]), "assignments.pm: no shift 'pm' in shifts"),
    (lambda p: p["assignments"]["am"].append("V000001"), "assignments.am[2]: 'V000001' is listed twice (also [0])"),
    (lambda p: p["assignments"]["am"].append(7), "assignments.am[2]: must be a volunteer id or record book number"),
    (lambda p: p.update(assignments=["V1"]), "assignments: must be an object"),
    (lambda p: p.pop("zones"), "zones: is required"),
    (lambda p: p.pop("event"), "event: is required"),
    (lambda p: p.update(gates={}), "gates: must be a list"),
])
def test_each_problem_is_named_by_its_path(edit: Any, expected: str) -> None:
    plan = copy.deepcopy(good())
    edit(plan)
    found = problems(plan)
    assert any(p.startswith(expected) for p in found), found


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
