"""An event plan (event, zones, gates, shifts, assignments) read from JSON and checked, with no I/O.

`parse_plan` never raises: it returns every problem at once, each named by its path in the file
(`gates[2].zone_id: no zone 'north'`), so an operator fixes a plan in one pass. Whole-line `//`
comments are allowed, so the example `checkin plan example` prints can be edited in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from checkin.rules import GATE_MODES, Policy

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what the gateway accepts for a gate id, and the event id rule
MAX_VOLUNTEER_REF = 64


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class EventSpec:
    event_id: str
    name: str
    starts_on: date
    ends_on: date
    tz: str
    policy: Policy


@dataclass(frozen=True)
class ZoneSpec:
    zone_id: str
    name: str


@dataclass(frozen=True)
class GateSpec:
    gate_id: str
    zone_id: str
    name: str
    mode: str
    index: int  # position in the file, for problems found later against the database


@dataclass(frozen=True)
class ShiftSpec:
    shift_id: str
    zone_id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    required: int
    index: int


@dataclass(frozen=True)
class Plan:
    event: EventSpec
    zones: list[ZoneSpec]
    gates: list[GateSpec]
    shifts: list[ShiftSpec]
    # shift id -> volunteer ids or record book numbers, as written
    assignments: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedPlan:
    plan: Plan | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.problems


def strip_comments(text: str) -> str:
    """Blank out whole-line // comments (keeping line numbers for JSON errors); strings are untouched."""
    return "\n".join("" if line.lstrip().startswith("//") else line for line in text.splitlines())


class _Checker:
    """Collects problems while reading fields; each read returns None when the value is unusable."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def obj(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return None
        for key in value:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else key, f"unknown field (known: {', '.join(sorted(allowed))})")
        return value

    def text(self, obj: dict[str, Any], key: str, path: str, *, ident: bool = False,
             default: str | None = None) -> str | None:
        value = obj.get(key, default)
        where = f"{path}.{key}"
        if value is None:
            self.add(where, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(where, "must be a non-empty string")
            return None
        if ident and not ID_RE.match(value):
            self.add(where, f"{value!r} is not an id: 1-64 letters, digits, '-' or '_'")
            return None
        return value.strip() if not ident else value

    def day(self, obj: dict[str, Any], key: str, path: str) -> date | None:
        raw = self.text(obj, key, path)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.add(f"{path}.{key}", f"{raw!r} is not a date (YYYY-MM-DD)")
            return None

    def moment(self, obj: dict[str, Any], key: str, path: str) -> datetime | None:
        raw = self.text(obj, key, path)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            self.add(f"{path}.{key}", f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM+08:00)")
            return None
        if value.tzinfo is None:
            self.add(f"{path}.{key}", f"{raw!r} has no UTC offset; write it as e.g. {raw}+08:00")
            return None
        return value

    def whole(self, obj: dict[str, Any], key: str, path: str, default: int) -> int | None:
        value = obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.add(f"{path}.{key}", f"must be a whole number >= 0, got {value!r}")
            return None
        return value

    def items(self, root: dict[str, Any], key: str, *, required: bool) -> list[tuple[str, dict[str, Any]]]:
        value = root.get(key)
        if value is None:
            if required:
                self.add(key, "is required (a list)")
            return []
        if not isinstance(value, list):
            self.add(key, "must be a list")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{key}[{i}]", item))
            else:
                self.add(f"{key}[{i}]", "must be an object")
        return out

    def unique(self, seen: dict[str, str], ident: str | None, path: str, kind: str) -> bool:
        if ident is None:
            return False
        if ident in seen:
            self.add(f"{path}.id", f"duplicate {kind} {ident!r} (also {seen[ident]})")
            return False
        seen[ident] = path
        return True


_POLICY_FIELDS = set(Policy.__dataclass_fields__) - {"tz"}


def _event(c: _Checker, raw: Any) -> EventSpec | None:
    ev = c.obj(raw, "event", {"id", "name", "starts_on", "ends_on", "tz", "policy"})
    if ev is None:
        return None
    event_id = c.text(ev, "id", "event", ident=True)
    name = c.text(ev, "name", "event")
    starts_on, ends_on = c.day(ev, "starts_on", "event"), c.day(ev, "ends_on", "event")
    if starts_on and ends_on and ends_on < starts_on:
        c.add("event.ends_on", f"{ends_on} is before starts_on {starts_on}")
        ends_on = None
    tz = c.text(ev, "tz", "event", default="Asia/Taipei")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            c.add("event.tz", f"{tz!r} is not a time zone (e.g. Asia/Taipei)")
            tz = None
    policy = None
    body = c.obj(ev.get("policy", {}), "event.policy", _POLICY_FIELDS)
    if body is not None:
        known = {k: v for k, v in body.items() if k in _POLICY_FIELDS}
        try:
            policy = Policy.from_json({**known, "tz": tz or "UTC"})
        except (ValueError, TypeError) as exc:
            c.add("event.policy", str(exc).removeprefix("policy."))
    if None in (event_id, name, starts_on, ends_on, tz, policy):
        return None
    return EventSpec(event_id, name, starts_on, ends_on, tz, policy)  # type: ignore[arg-type]


def _assignments(c: _Checker, raw: Any, shift_ids: set[str] | None) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        c.add("assignments", "must be an object: shift id -> list of volunteer ids or record book numbers")
        return {}
    out: dict[str, list[str]] = {}
    for shift_id, refs in raw.items():
        path = f"assignments.{shift_id}"
        if shift_ids is not None and shift_id not in shift_ids:
            c.add(path, f"no shift {shift_id!r} in shifts")
        if not isinstance(refs, list):
            c.add(path, "must be a list of volunteer ids or record book numbers")
            continue
        seen: dict[str, int] = {}
        for i, ref in enumerate(refs):
            if not isinstance(ref, str) or not ref.strip() or len(ref) > MAX_VOLUNTEER_REF:
                c.add(f"{path}[{i}]", "must be a volunteer id or record book number (a short string)")
            elif ref.strip() in seen:
                c.add(f"{path}[{i}]", f"{ref!r} is listed twice (also [{seen[ref.strip()]}])")
            else:
                seen[ref.strip()] = i
        out[shift_id] = list(seen)
    return out


def parse_plan(data: bytes | str) -> ParsedPlan:
    """Read and check a plan; `plan` is None whenever there is any problem."""
    c = _Checker()
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    try:
        raw = orjson.loads(strip_comments(text))
    except orjson.JSONDecodeError as exc:
        return ParsedPlan(None, [Problem("", f"not valid JSON: {exc}")])
    root = c.obj(raw, "", {"event", "zones", "gates", "shifts", "assignments"})
    if root is None:
        return ParsedPlan(None, c.problems)
    event = None
    if "event" in root:
        event = _event(c, root["event"])
    else:
        c.add("event", "is required")

    zones: dict[str, ZoneSpec] = {}
    seen: dict[str, str] = {}
    for path, item in c.items(root, "zones", required=True):
        c.obj(item, path, {"id", "name"})
        zone_id, name = c.text(item, "id", path, ident=True), c.text(item, "name", path)
        if c.unique(seen, zone_id, path, "zone") and zone_id is not None and name is not None:
            zones[zone_id] = ZoneSpec(zone_id, name)

    def zone_of(item: dict[str, Any], path: str) -> str | None:
        zone_id = c.text(item, "zone_id", path, ident=True)
        if zone_id is not None and zone_id not in seen:
            c.add(f"{path}.zone_id", f"no zone {zone_id!r}")
            return None
        return zone_id

    gates: list[GateSpec] = []
    seen_gates: dict[str, str] = {}
    for i, (path, item) in enumerate(c.items(root, "gates", required=False)):
        c.obj(item, path, {"id", "zone_id", "name", "mode"})
        gate_id, zone_id, name = c.text(item, "id", path, ident=True), zone_of(item, path), c.text(item, "name", path)
        mode = c.text(item, "mode", path, default="auto")
        if mode is not None and mode not in GATE_MODES:
            c.add(f"{path}.mode", f"{mode!r} is not one of {', '.join(GATE_MODES)}")
            mode = None
        if c.unique(seen_gates, gate_id, path, "gate") and None not in (zone_id, name, mode):
            gates.append(GateSpec(gate_id, zone_id, name, mode, i))  # type: ignore[arg-type]

    shifts: list[ShiftSpec] = []
    seen_shifts: dict[str, str] = {}
    for i, (path, item) in enumerate(c.items(root, "shifts", required=False)):
        c.obj(item, path, {"id", "zone_id", "name", "starts_at", "ends_at", "required"})
        shift_id, zone_id, name = c.text(item, "id", path, ident=True), zone_of(item, path), c.text(item, "name", path)
        starts_at, ends_at = c.moment(item, "starts_at", path), c.moment(item, "ends_at", path)
        required = c.whole(item, "required", path, 0)
        if starts_at and ends_at and ends_at <= starts_at:
            c.add(f"{path}.ends_at", f"{ends_at.isoformat()} is not after starts_at {starts_at.isoformat()}")
            ends_at = None
        if event is not None and starts_at is not None:
            day = starts_at.astimezone(ZoneInfo(event.tz)).date()
            if not event.starts_on <= day <= event.ends_on:
                c.add(f"{path}.starts_at", f"{day} ({event.tz}) is outside the event, "
                                           f"{event.starts_on} to {event.ends_on}")
        if c.unique(seen_shifts, shift_id, path, "shift") and None not in (zone_id, name, starts_at, ends_at, required):
            shifts.append(ShiftSpec(shift_id, zone_id, name, starts_at, ends_at, required, i))  # type: ignore[arg-type]

    assignments = _assignments(c, root.get("assignments"), set(seen_shifts))
    if c.problems or event is None:
        return ParsedPlan(None, c.problems)
    return ParsedPlan(Plan(event, list(zones.values()), gates, shifts, assignments), [])
