"""The console's plan edits (checkin/events/plan_edit.py): documents built for parse_plan to judge, defaults,
and problems turned into the fields a page marks."""

from __future__ import annotations

from typing import Any

import orjson

from checkin.events.plan import Problem, parse_plan
from checkin.events.plan_edit import (
    effective_settings,
    local_moment,
    policy_defaults,
    problem_field,
    row_problems,
    setting_choices,
    with_event,
    with_row,
)
from checkin.hours.model import HoursPolicy
from checkin.scan.rules import Policy


def plan() -> dict[str, Any]:
    return {"event": {"id": "ev1", "name": "燈會", "starts_on": "2024-02-24", "ends_on": "2024-02-25",
                      "tz": "Asia/Taipei", "policy": {"debounce_s": 30}},
            "zones": [{"id": "north", "name": "北區"}],
            "gates": [{"id": "n1", "zone_id": "north", "name": "北門", "mode": "entry"}],
            "shifts": []}


def test_the_defaults_are_the_policies_own_and_every_one_is_accepted_by_the_plan() -> None:
    defaults = policy_defaults()
    assert defaults["debounce_s"] == Policy().debounce_s and "tz" not in defaults
    assert defaults["hours"]["day_starts_hour"] == HoursPolicy().day_starts_hour and "timezone" not in defaults["hours"]
    assert parse_plan(orjson.dumps(with_event(plan(), {"policy": defaults}))).ok
    for key, allowed in setting_choices().items():
        for value in allowed:
            policy = {"hours": {key.removeprefix("hours."): value}} if key.startswith("hours.") else {key: value}
            assert parse_plan(orjson.dumps(with_event(plan(), {"policy": policy}))).ok, (key, value)


def test_the_settings_in_force_are_the_stored_ones_over_the_defaults() -> None:
    found = effective_settings({"debounce_s": 30, "tz": "Asia/Taipei", "hours": {"day_starts_hour": 5},
                                "not_a_setting": 1})
    assert found["debounce_s"] == 30 and found["insurance"] == "warn" and "tz" not in found
    assert found["hours"]["day_starts_hour"] == 5 and found["hours"]["rounding_step_minutes"] == 30
    assert "not_a_setting" not in found


def test_a_row_replaces_its_namesake_or_is_added_and_the_original_is_left_alone() -> None:
    doc = plan()
    changed, index = with_row(doc, "gates", {"id": "n1", "zone_id": "north", "name": "北門", "mode": "exit"})
    assert index == 0 and changed["gates"][0]["mode"] == "exit" and doc["gates"][0]["mode"] == "entry"
    changed, index = with_row(doc, "gates", {"id": "n2", "zone_id": "north", "name": "北二門"})
    assert index == 1 and len(changed["gates"]) == 2 and len(doc["gates"]) == 1


def test_an_edit_is_judged_by_the_plan_and_its_problems_land_on_the_rows_fields() -> None:
    changed, index = with_row(plan(), "gates", {"id": "n2", "zone_id": "south", "name": "南門", "mode": "sideways"})
    problems = parse_plan(orjson.dumps(changed)).problems
    assert {p["field"] for p in row_problems(problems, f"gates[{index}]")} == {"zone_id", "mode"}
    edited = with_event(plan(), {"ends_on": "2024-02-01", "policy": {"debounce_s": -1, "hours": {"day_starts_hour": 99}}})
    fields = {p["field"] for p in row_problems(parse_plan(orjson.dumps(edited)).problems, "event")}
    assert fields == {"ends_on", "policy.debounce_s", "policy.hours.day_starts_hour"}


def test_a_problem_elsewhere_keeps_its_whole_path() -> None:
    assert row_problems([Problem("shifts[0].starts_at", "outside", "不在期間內")], "event") == \
        [{"field": "shifts[0].starts_at", "message": "outside", "message_zh": "不在期間內"}]
    # A problem with no Chinese wording gives its English in both, so a page always has a message to show.
    assert row_problems([Problem("event", "refused")], "event")[0]["message_zh"] == "refused"
    assert problem_field(Problem("event.policy", "something else broke")) == "event.policy"


def test_a_local_time_is_the_events_and_anything_else_is_left_for_the_plan_to_judge() -> None:
    assert local_moment("2024-02-24T09:00", "Asia/Taipei") == "2024-02-24T09:00:00+08:00"
    assert local_moment("2024-02-24T09:00+09:00", "Asia/Taipei") == "2024-02-24T09:00+09:00"
    assert local_moment("9 am", "Asia/Taipei") == "9 am"
    assert local_moment(900, "Asia/Taipei") == 900
