"""The vocabulary of service hours: the event's hours policy, a scan of the log, shifts, corrections, and
what a derivation gives back (sessions, day totals, anomalies). Pure data; the rules are in checkin.hours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from checkin.errors import Invalid
from checkin.vocabulary import Anomaly as Kind
from checkin.vocabulary import Verdict, Warning

# The words, from checkin.vocabulary.
CHECKED_IN, CHECKED_OUT, DUPLICATE, REJECTED = Verdict.CHECKED_IN, Verdict.CHECKED_OUT, Verdict.DUPLICATE, Verdict.REJECTED
CLOCK_SKEW = Warning.CLOCK_SKEW

# Anomaly kinds
MISSING_CHECKOUT, UNPAIRED_CHECKOUT = Kind.MISSING_CHECKOUT, Kind.UNPAIRED_CHECKOUT
OVERLONG_SESSION, OUTSIDE_SHIFT, WRONG_ZONE = Kind.OVERLONG_SESSION, Kind.OUTSIDE_SHIFT, Kind.WRONG_ZONE
MANY_DUPLICATES, AFTER_REVOCATION = Kind.MANY_DUPLICATES, Kind.AFTER_REVOCATION
OVERLAPPING_SESSIONS, STALE_CORRECTION = Kind.OVERLAPPING_SESSIONS, Kind.STALE_CORRECTION

_CHOICES: dict[str, tuple[str, ...]] = {
    "rounding_mode": ("down", "nearest"),
    "rounding_scope": ("day", "session"),
    "unpaired_checkout": ("ignore", "from_shift_start"),
    "missing_checkout": ("close_at_shift_end", "leave_open"),
}
_MINIMUMS: dict[str, int] = {  # whole-number fields and their smallest allowed value
    "day_starts_hour": 0,
    "rounding_step_minutes": 1,
    "min_session_minutes": 0,
    "daily_cap_minutes": 1,
    "double_scan_seconds": 0,
    "break_minutes": 0,
    "shift_tolerance_minutes": 0,
    "many_duplicates": 1,
}


@dataclass(frozen=True, slots=True)
class HoursPolicy:
    """How an event turns scans into credited hours (events.policy -> 'hours')."""

    timezone: str = "Asia/Taipei"
    day_starts_hour: int = 4  # a service day runs 04:00 to 04:00 local, so night shifts stay whole
    rounding_step_minutes: int = 30
    rounding_mode: str = "down"
    rounding_scope: str = "day"  # round each service day's total, or each session
    min_session_minutes: int = 0  # shorter sessions credit nothing
    daily_cap_minutes: int | None = None
    double_scan_seconds: int = 60  # the gate's debounce: a scan this soon after the last one is a double
    unpaired_checkout: str = "ignore"
    missing_checkout: str = "close_at_shift_end"
    break_minutes: int = 0  # deducted from each session longer than break_after_hours
    break_after_hours: float | None = None
    overlong_hours: float = 12.0
    shift_tolerance_minutes: int = 60  # how early or late a scan may be and still be in a shift
    many_duplicates: int = 5
    count_revoked: bool = False  # scans made with a revoked card credit hours only if True

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise Invalid(f"hours policy {name} must be one of {', '.join(allowed)}; got {value!r}", field=name,
                              zh=f"{name} 須為 {'、'.join(allowed)} 其中之一，收到 {value!r}")
        for name, least in _MINIMUMS.items():
            value = getattr(self, name)
            if value is None and name == "daily_cap_minutes":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise Invalid(f"hours policy {name} must be a whole number >= {least}; got {value!r}", field=name,
                              zh=f"{name} 須為 {least} 以上的整數，收到 {value!r}")
        if self.day_starts_hour > 23:
            raise Invalid(f"hours policy day_starts_hour must be 0..23; got {self.day_starts_hour}",
                          field="day_starts_hour", zh=f"day_starts_hour 須為 0 到 23，收到 {self.day_starts_hour}")
        for name in ("overlong_hours", "break_after_hours"):
            value = getattr(self, name)
            if value is None and name == "break_after_hours":
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise Invalid(f"hours policy {name} must be a number of hours > 0; got {value!r}", field=name,
                              zh=f"{name} 須為大於 0 的時數，收到 {value!r}")
        if not isinstance(self.count_revoked, bool):
            raise Invalid(f"hours policy count_revoked must be true or false; got {self.count_revoked!r}",
                          field="count_revoked", zh=f"count_revoked 須為 true 或 false，收到 {self.count_revoked!r}")
        if not isinstance(self.timezone, str):
            raise Invalid(f"hours policy timezone must be a time zone name; got {self.timezone!r}", field="timezone",
                          zh=f"timezone 須為時區名稱，收到 {self.timezone!r}")
        try:
            zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"hours policy timezone {self.timezone!r} is not a known time zone", field="timezone",
                          zh=f"timezone {self.timezone!r} 不是已知的時區") from None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoursPolicy:
        """Build from a JSON object; missing fields take the defaults, unknown ones are refused."""
        if not isinstance(data, Mapping):
            raise Invalid(f"hours policy must be a JSON object; got {type(data).__name__}",
                          zh=f"須為 JSON 物件，收到 {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise Invalid(f"hours policy has unknown field(s): {', '.join(unknown)}",
                          zh=f"有不明的欄位：{'、'.join(unknown)}")
        return cls(**dict(data))


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class LogScan(NamedTuple):
    """One row of the scan log, as reconciliation needs it.

    A named tuple rather than a frozen dataclass: a million of these are made per big event, and a
    tuple is built about three times faster than a frozen dataclass (whose __init__ sets each field
    through object.__setattr__).
    """

    scan_id: str
    volunteer_id: str
    at: datetime  # aware
    verdict: str
    gate_id: str
    zone_id: str | None
    warnings: tuple[str, ...] = ()
    card_revoked: bool = False  # the card was revoked when the scan was made
    annulled: bool = False  # undone at the gate afterwards (annulments); kept so pairing can resync


@dataclass(frozen=True, slots=True)
class Shift:
    shift_id: str
    zone_id: str
    starts_at: datetime
    ends_at: datetime


_ACTIONS = ("add", "change", "void")


@dataclass(frozen=True, slots=True)
class Correction:
    """An office correction on top of the derived sessions; part of the input, so re-derivable."""

    correction_id: str
    action: str  # add | change | void
    session_key: str | None  # the check-in scan_id, or the correction_id of an added session
    start: datetime | None
    end: datetime | None
    reason: str
    actor: str
    at: datetime

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"correction action must be add, change or void; got {self.action!r}")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError("a correction needs a reason")
        if not self.actor:
            raise ValueError("a correction needs an actor")
        if self.action == "add" and (self.start is None or self.end is None):
            raise ValueError("an added session needs both start and end")
        if self.action != "add" and not self.session_key:
            raise ValueError(f"a {self.action} correction needs the session_key of the session it corrects")
        if self.action == "change" and self.start is None and self.end is None:
            raise ValueError("a change correction needs a new start, a new end, or both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("a corrected session must end after it starts")

    @property
    def key(self) -> str:
        return self.correction_id if self.action == "add" else str(self.session_key)


@dataclass(frozen=True, slots=True)
class Session:
    key: str  # check-in scan_id (or the correction_id of an added session)
    start: datetime
    end: datetime | None  # None: still open, credits nothing until corrected
    day: date  # service day of the start, in the event's time zone
    raw_minutes: int
    credited_minutes: int  # after break and minimum (and rounding when rounding_scope is session)
    in_scan_id: str | None = None
    out_scan_id: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: date
    raw_minutes: int
    credited_minutes: int  # sum of the sessions' credited minutes
    minutes: int  # after rounding and the daily cap: what goes in the record book
    capped: bool = False

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str
    scan_ids: tuple[str, ...]  # the evidence
    session_key: str | None = None
    detail: str = ""
    resolved: bool = False  # a correction touched the session it concerns


@dataclass(frozen=True, slots=True)
class VolunteerHours:
    volunteer_id: str
    sessions: tuple[Session, ...]
    days: tuple[DayTotal, ...]
    anomalies: tuple[Anomaly, ...]

    @property
    def total_minutes(self) -> int:
        return sum(d.minutes for d in self.days)

    @property
    def total_hours(self) -> float:
        return self.total_minutes / 60
