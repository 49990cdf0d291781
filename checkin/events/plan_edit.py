"""Editing an event plan piece by piece, as the office console does, with no I/O and no rules of its own.

The console never checks a value itself: it puts the edited piece (the event's fields, one zone, gate or
shift) into the event's whole plan document and hands that to `parse_plan`, the very check `checkin plan
import` makes. What is here only builds those documents, names each setting's default, and turns a problem's
path (`gates[2].mode`, `event.policy` "debounce_s must ...") into the field a page marks.
"""

from __future__ import annotations

import copy
from dataclasses import fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from checkin.events.plan import RECORD_RULES, Problem
from checkin.hours.model import _CHOICES as HOURS_CHOICES
from checkin.hours.model import HoursPolicy
from checkin.scan.rules import Policy

SECTIONS = ("zones", "gates", "shifts")
DEFAULT_UNDO_WINDOW_MIN = 15  # the same default the desk reads (checkin/access/operations.py)
EVENT_FIELDS = ("name", "starts_on", "ends_on", "tz")
INSURANCE = ("block", "warn", "off")  # what Policy.from_json accepts (checkin/scan/rules.py)


def policy_defaults() -> dict[str, Any]:
    """Every policy setting a plan may make, with the value a new event gets when the plan is silent."""
    gate = {f.name: f.default for f in fields(Policy) if f.name != "tz"}
    hours = {f.name: f.default for f in fields(HoursPolicy) if f.name != "timezone"}
    return {**gate, "undo_window_min": DEFAULT_UNDO_WINDOW_MIN, "record_rules": RECORD_RULES[1], "hours": hours}


def setting_choices() -> dict[str, tuple[str, ...]]:
    """The settings that take one of a few words, and those words (hours ones as `hours.<name>`)."""
    return {"insurance": INSURANCE, "record_rules": RECORD_RULES,
            **{f"hours.{name}": allowed for name, allowed in HOURS_CHOICES.items()}}


def effective_settings(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The settings in force: the stored policy over the defaults, hours field by field (no time zone: the
    event's own `tz` is the one)."""
    out = policy_defaults()
    for key, value in (stored or {}).items():
        if key == "hours" and isinstance(value, dict):
            out["hours"] = {**out["hours"], **{k: v for k, v in value.items() if k in out["hours"]}}
        elif key in out:
            out[key] = value
    return out


def with_event(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The plan with the event's name, dates, time zone and policy replaced by those given (others kept)."""
    out = copy.deepcopy(doc)
    event = out.setdefault("event", {})
    for key in (*EVENT_FIELDS, "policy"):
        if key in changes:
            event[key] = changes[key]
    return out


def with_row(doc: dict[str, Any], section: str, row: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The plan with one zone, gate or shift put in place of the one with its id (or added at the end), and
    where it stands, so the problems found at `section[index]` are this row's."""
    out = copy.deepcopy(doc)
    rows = out.setdefault(section, [])
    if not isinstance(rows, list):
        rows = out[section] = []
    for index, old in enumerate(rows):
        if isinstance(old, dict) and old.get("id") == row.get("id"):
            rows[index] = row
            return out, index
    rows.append(row)
    return out, len(rows) - 1


def local_moment(value: Any, tz: str) -> Any:
    """A date and time written without an offset (as a datetime-local input sends it) is the event's local time;
    anything else is left for the plan's own check to judge."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        return value
    return moment.replace(tzinfo=ZoneInfo(tz)).isoformat()


_SETTING_NAMES = set(policy_defaults()) | set(policy_defaults()["hours"])


def problem_field(problem: Problem) -> str:
    """The dotted path of the field a problem is about. The policy's own checks name the setting at the start
    of their message rather than in the path; it is moved into the path here."""
    first = problem.message.split(" ", 1)[0]
    if problem.path in ("event.policy", "event.policy.hours") and first in _SETTING_NAMES:
        return f"{problem.path}.{first}"
    return problem.path


def row_problems(problems: list[Problem], prefix: str) -> list[dict[str, str | None]]:
    """Problems as {field, message, message_zh} for a page: the field is the part of the path after `prefix`
    (e.g. `gates[2]` gives `mode`, `event` gives `policy.debounce_s`); a problem elsewhere in the plan keeps its
    whole path. message_zh is the Traditional Chinese wording, or the English where there is none."""
    out: list[dict[str, str | None]] = []
    for problem in problems:
        path = problem_field(problem)
        if path == prefix:
            name: str | None = None
        elif path.startswith(prefix + "."):
            name = path.removeprefix(prefix + ".")
        else:
            name = path or None
        out.append({"field": name, "message": problem.message, "message_zh": problem.zh or problem.message})
    return out
