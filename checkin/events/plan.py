"""An event plan (event, zones, gates, shifts, assignments) read from JSON and checked, with no I/O.

`parse_plan` never raises: it returns every problem at once, each named by its path in the file
(`gates[2].zone_id: no zone 'north'`), so an operator fixes a plan in one pass. Whole-line `//`
comments are allowed, so the example `checkin plan example` prints can be edited in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from checkin.hours.model import HoursPolicy
from checkin.scan.rules import GATE_MODES, Policy

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")  # what the gateway accepts for a gate id, and the event id rule
MAX_VOLUNTEER_REF = 64
OBJECT_ZH = "須為一組欄位（{ … }）"
KIND_ZH = {"zone": "分區", "gate": "閘口", "shift": "班別"}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    zh: str = ""  # the same in Traditional Chinese, for the console's pages ("" where none is written)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class EventSpec:
    event_id: str
    name: str
    starts_on: date
    ends_on: date
    tz: str
    policy: Policy  # the gate policy as the plan would make it on a new event (defaults filled in)
    # What the plan says of events.policy, and only that: gate settings, "hours" (a nested object),
    # undo_window_min and record_rules. A re-import changes exactly these and leaves the rest as stored.
    settings: dict[str, Any] = field(default_factory=dict)
    tz_given: bool = True


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
    mode_given: bool = True  # False: a re-import keeps the stored mode ("auto" on a new gate)


@dataclass(frozen=True)
class ShiftSpec:
    shift_id: str
    zone_id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    required: int
    index: int
    required_given: bool = True  # False: a re-import keeps the stored number (0 on a new shift)


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

    def add(self, path: str, message: str, zh: str) -> None:
        self.problems.append(Problem(path, message, zh))

    def obj(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, "must be an object", OBJECT_ZH)
            return None
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.add(f"{path}.{key}" if path else key, f"unknown field (known: {known})",
                         f"沒有這個欄位（可用的欄位：{known}）")
        return value

    def text(self, obj: dict[str, Any], key: str, path: str, *, ident: bool = False,
             default: str | None = None) -> str | None:
        value = obj.get(key, default)
        where = f"{path}.{key}"
        if value is None:
            self.add(where, "is required", "必填")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(where, "must be a non-empty string", "不可空白")
            return None
        if ident and not ID_RE.match(value):
            self.add(where, f"{value!r} is not an id: 1-64 letters, digits, '-' or '_'",
                     f"{value!r} 不是代號：須為 1–64 個英文字母、數字、「-」或「_」")
            return None
        return value.strip() if not ident else value

    def day(self, obj: dict[str, Any], key: str, path: str) -> date | None:
        raw = self.text(obj, key, path)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.add(f"{path}.{key}", f"{raw!r} is not a date (YYYY-MM-DD)", f"{raw!r} 不是日期（YYYY-MM-DD）")
            return None

    def moment(self, obj: dict[str, Any], key: str, path: str) -> datetime | None:
        raw = self.text(obj, key, path)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            self.add(f"{path}.{key}", f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM+08:00)",
                     f"{raw!r} 不是日期時間（YYYY-MM-DDTHH:MM+08:00）")
            return None
        if value.tzinfo is None:
            self.add(f"{path}.{key}", f"{raw!r} has no UTC offset; write it as e.g. {raw}+08:00",
                     f"{raw!r} 沒有時差；請寫成例如 {raw}+08:00")
            return None
        try:
            value.astimezone(UTC)  # year 1 at +08:00 is before year 1 in UTC: no time zone can convert it
        except OverflowError:
            self.add(f"{path}.{key}", f"{raw!r} is out of range", f"{raw!r} 超出可用的範圍")
            return None
        return value

    def whole(self, obj: dict[str, Any], key: str, path: str, default: int) -> int | None:
        value = obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.add(f"{path}.{key}", f"must be a whole number >= 0, got {value!r}", f"須為 0 以上的整數，收到 {value!r}")
            return None
        return value

    def items(self, root: dict[str, Any], key: str, *, required: bool) -> list[tuple[str, dict[str, Any]]]:
        value = root.get(key)
        if value is None:
            if required:
                self.add(key, "is required (a list)", "必填（一個清單）")
            return []
        if not isinstance(value, list):
            self.add(key, "must be a list", "須為清單（[ … ]）")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{key}[{i}]", item))
            else:
                self.add(f"{key}[{i}]", "must be an object", OBJECT_ZH)
        return out

    def unique(self, seen: dict[str, str], ident: str | None, path: str, kind: str) -> bool:
        if ident is None:
            return False
        if ident in seen:
            self.add(f"{path}.id", f"duplicate {kind} {ident!r} (also {seen[ident]})",
                     f"{KIND_ZH[kind]} {ident!r} 重複（另見 {seen[ident]}）")
            return False
        seen[ident] = path
        return True


_GATE_FIELDS = set(Policy.__dataclass_fields__) - {"tz"}  # the event's time zone is event.tz
_HOURS_FIELDS = {f.name for f in fields(HoursPolicy)} - {"timezone"}
_OTHER_SETTINGS = {"hours", "undo_window_min", "record_rules"}
_POLICY_FIELDS = _GATE_FIELDS | _OTHER_SETTINGS
RECORD_RULES = ("enforce", "off")


def _settings(c: _Checker, body: dict[str, Any], tz: str | None) -> tuple[Policy | None, dict[str, Any]]:
    """The policy settings the plan names, checked; and the gate policy they make on a new event."""
    policy = None
    gate = {k: v for k, v in body.items() if k in _GATE_FIELDS}
    try:
        policy = Policy.from_json({**gate, "tz": tz or "UTC"})
    except (ValueError, TypeError) as exc:
        detail = str(exc).removeprefix("policy.")
        c.add("event.policy", detail, f"規則設定有誤：{getattr(exc, 'zh', None) or detail}")
    settings: dict[str, Any] = dict(gate)
    if "hours" in body:
        hours = c.obj(body["hours"], "event.policy.hours", _HOURS_FIELDS)
        if hours is not None:
            try:
                HoursPolicy.from_json({**{k: v for k, v in hours.items() if k in _HOURS_FIELDS},
                                       "timezone": tz or "UTC"})
                settings["hours"] = dict(hours)
            except (ValueError, TypeError) as exc:
                detail = str(exc).removeprefix("hours policy ")
                c.add("event.policy.hours", detail, f"時數規則有誤：{getattr(exc, 'zh', None) or detail}")
    if "undo_window_min" in body:
        minutes = c.whole(body, "undo_window_min", "event.policy", 0)
        if minutes is not None:
            settings["undo_window_min"] = minutes
    if "record_rules" in body:
        if body["record_rules"] in RECORD_RULES:
            settings["record_rules"] = body["record_rules"]
        else:
            c.add("event.policy.record_rules", f"must be one of {', '.join(RECORD_RULES)}, got {body['record_rules']!r}",
                  f"須為 {'、'.join(RECORD_RULES)} 其中之一，收到 {body['record_rules']!r}")
    return policy, settings


def _event(c: _Checker, raw: Any) -> EventSpec | None:
    ev = c.obj(raw, "event", {"id", "name", "starts_on", "ends_on", "tz", "policy"})
    if ev is None:
        return None
    event_id = c.text(ev, "id", "event", ident=True)
    name = c.text(ev, "name", "event")
    starts_on, ends_on = c.day(ev, "starts_on", "event"), c.day(ev, "ends_on", "event")
    if starts_on and ends_on and ends_on < starts_on:
        c.add("event.ends_on", f"{ends_on} is before starts_on {starts_on}", f"結束日 {ends_on} 早於開始日 {starts_on}")
        ends_on = None
    tz = c.text(ev, "tz", "event", default="Asia/Taipei")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            c.add("event.tz", f"{tz!r} is not a time zone (e.g. Asia/Taipei)", f"{tz!r} 不是時區（例如 Asia/Taipei）")
            tz = None
    policy: Policy | None = None
    settings: dict[str, Any] = {}
    body = c.obj(ev.get("policy", {}), "event.policy", _POLICY_FIELDS)
    if body is not None:
        policy, settings = _settings(c, body, tz)
    if None in (event_id, name, starts_on, ends_on, tz, policy):
        return None
    return EventSpec(event_id, name, starts_on, ends_on, tz, policy, settings,  # type: ignore[arg-type]
                     tz_given="tz" in ev)


def _assignments(c: _Checker, raw: Any, shift_ids: set[str] | None) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        c.add("assignments", "must be an object: shift id -> list of volunteer ids or record book numbers",
              "須為「班別代號 → 志工編號或紀錄冊號碼的清單」")
        return {}
    out: dict[str, list[str]] = {}
    for shift_id, refs in raw.items():
        path = f"assignments.{shift_id}"
        if shift_ids is not None and shift_id not in shift_ids:
            c.add(path, f"no shift {shift_id!r} in shifts", f"班別中沒有 {shift_id!r}")
        if not isinstance(refs, list):
            c.add(path, "must be a list of volunteer ids or record book numbers", "須為志工編號或紀錄冊號碼的清單")
            continue
        seen: dict[str, int] = {}
        for i, ref in enumerate(refs):
            if not isinstance(ref, str) or not ref.strip() or len(ref) > MAX_VOLUNTEER_REF:
                c.add(f"{path}[{i}]", "must be a volunteer id or record book number (a short string)",
                      "須為志工編號或紀錄冊號碼（簡短文字）")
            elif ref.strip() in seen:
                c.add(f"{path}[{i}]", f"{ref!r} is listed twice (also [{seen[ref.strip()]}])",
                      f"{ref!r} 列了兩次（另見第 [{seen[ref.strip()]}] 項）")
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
        return ParsedPlan(None, [Problem("", f"not valid JSON: {exc}", f"不是有效的 JSON：{exc}")])
    root = c.obj(raw, "", {"event", "zones", "gates", "shifts", "assignments"})
    if root is None:
        return ParsedPlan(None, c.problems)
    event = None
    if "event" in root:
        event = _event(c, root["event"])
    else:
        c.add("event", "is required", "必填")

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
            c.add(f"{path}.zone_id", f"no zone {zone_id!r}", f"沒有分區 {zone_id!r}")
            return None
        return zone_id

    gates: list[GateSpec] = []
    seen_gates: dict[str, str] = {}
    for i, (path, item) in enumerate(c.items(root, "gates", required=False)):
        c.obj(item, path, {"id", "zone_id", "name", "mode"})
        gate_id, zone_id, name = c.text(item, "id", path, ident=True), zone_of(item, path), c.text(item, "name", path)
        mode = c.text(item, "mode", path, default="auto")
        if mode is not None and mode not in GATE_MODES:
            c.add(f"{path}.mode", f"{mode!r} is not one of {', '.join(GATE_MODES)}",
                  f"{mode!r} 不是 {'、'.join(GATE_MODES)} 其中之一")
            mode = None
        if c.unique(seen_gates, gate_id, path, "gate") and None not in (zone_id, name, mode):
            gates.append(GateSpec(gate_id, zone_id, name, mode, i, "mode" in item))  # type: ignore[arg-type]

    shifts: list[ShiftSpec] = []
    seen_shifts: dict[str, str] = {}
    for i, (path, item) in enumerate(c.items(root, "shifts", required=False)):
        c.obj(item, path, {"id", "zone_id", "name", "starts_at", "ends_at", "required"})
        shift_id, zone_id, name = c.text(item, "id", path, ident=True), zone_of(item, path), c.text(item, "name", path)
        starts_at, ends_at = c.moment(item, "starts_at", path), c.moment(item, "ends_at", path)
        required = c.whole(item, "required", path, 0)
        if starts_at and ends_at and ends_at <= starts_at:
            c.add(f"{path}.ends_at", f"{ends_at.isoformat()} is not after starts_at {starts_at.isoformat()}",
                  f"結束時間 {ends_at.isoformat()} 沒有晚於開始時間 {starts_at.isoformat()}")
            ends_at = None
        if event is not None and starts_at is not None:
            day = starts_at.astimezone(ZoneInfo(event.tz)).date()
            if not event.starts_on <= day <= event.ends_on:
                c.add(f"{path}.starts_at", f"{day} ({event.tz}) is outside the event, "
                                           f"{event.starts_on} to {event.ends_on}",
                      f"{day}（{event.tz}）不在活動期間 {event.starts_on} 至 {event.ends_on} 之內")
        if c.unique(seen_shifts, shift_id, path, "shift") and None not in (zone_id, name, starts_at, ends_at, required):
            shifts.append(ShiftSpec(shift_id, zone_id, name, starts_at, ends_at, required, i,  # type: ignore[arg-type]
                                    "required" in item))

    assignments = _assignments(c, root.get("assignments"), set(seen_shifts))
    if c.problems or event is None:
        return ParsedPlan(None, c.problems)
    return ParsedPlan(Plan(event, list(zones.values()), gates, shifts, assignments), [])
