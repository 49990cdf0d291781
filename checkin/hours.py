"""Service hours (服務時數) derived from the scan log under an event's hours policy: pure, no I/O.

`derive_hours` is a pure function of (scans, shifts, policy, corrections): the same inputs in any
order give the same result, so hours can always be re-derived from the append-only log.
The rules in plain words are in docs/hours.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHECKED_IN, CHECKED_OUT, DUPLICATE, REJECTED = "checked_in", "checked_out", "duplicate", "rejected"
CLOCK_SKEW = "clock_skew"

# Anomaly kinds
MISSING_CHECKOUT = "missing_checkout"
UNPAIRED_CHECKOUT = "unpaired_checkout"
OVERLONG_SESSION = "overlong_session"
OUTSIDE_SHIFT = "outside_shift"
WRONG_ZONE = "wrong_zone"
MANY_DUPLICATES = "many_duplicates"
AFTER_REVOCATION = "after_revocation"
OVERLAPPING_SESSIONS = "overlapping_sessions"
STALE_CORRECTION = "stale_correction"

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
                raise ValueError(f"hours policy {name} must be one of {', '.join(allowed)}; got {value!r}")
        for name, least in _MINIMUMS.items():
            value = getattr(self, name)
            if value is None and name == "daily_cap_minutes":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"hours policy {name} must be a whole number >= {least}; got {value!r}")
        if self.day_starts_hour > 23:
            raise ValueError(f"hours policy day_starts_hour must be 0..23; got {self.day_starts_hour}")
        for name in ("overlong_hours", "break_after_hours"):
            value = getattr(self, name)
            if value is None and name == "break_after_hours":
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"hours policy {name} must be a number of hours > 0; got {value!r}")
        if not isinstance(self.count_revoked, bool):
            raise ValueError(f"hours policy count_revoked must be true or false; got {self.count_revoked!r}")
        if not isinstance(self.timezone, str):
            raise ValueError(f"hours policy timezone must be a time zone name; got {self.timezone!r}")
        try:
            _zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"hours policy timezone {self.timezone!r} is not a known time zone") from None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoursPolicy:
        """Build from a JSON object; missing fields take the defaults, unknown ones are refused."""
        if not isinstance(data, Mapping):
            raise ValueError(f"hours policy must be a JSON object; got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"hours policy has unknown field(s): {', '.join(unknown)}")
        return cls(**dict(data))


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
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


_ONE_DAY = timedelta(days=1)
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def service_day(at: datetime, policy: HoursPolicy) -> date:
    """The service day a moment belongs to: local date, with the day starting at day_starts_hour."""
    local = at.astimezone(_zone(policy.timezone))  # no work when `at` is already in that zone
    return local.date() - _ONE_DAY if local.hour < policy.day_starts_hour else local.date()


def _minute(at: datetime) -> int:
    """Whole minutes since the epoch (UTC), as int(at.timestamp()) // 60 but without timestamp()'s zone work.

    Times count to the whole minute, as a record book writes them; so seconds never decide a minute.
    """
    offset = at.utcoffset()
    assert offset is not None, "log times are aware"
    wall = ((at.toordinal() - _EPOCH_DAY) * 86400 + at.hour * 3600 + at.minute * 60 + at.second)
    return (wall - offset.days * 86400 - offset.seconds) // 60


def _round(minutes: int, policy: HoursPolicy) -> int:
    step = policy.rounding_step_minutes
    if policy.rounding_mode == "down":
        return minutes // step * step
    return (2 * minutes + step) // (2 * step) * step  # nearest, halves up


class _Draft:
    """A session while it is being paired and corrected (mutable, private)."""

    __slots__ = ("key", "start", "end", "in_id", "out_id", "flags")

    def __init__(
        self, key: str, start: datetime, end: datetime | None,
        in_id: str | None, out_id: str | None, flags: tuple[str, ...],
    ) -> None:
        self.key, self.start, self.end = key, start, end
        self.in_id, self.out_id, self.flags = in_id, out_id, flags


def _covering(at: datetime, shifts: list[Shift], tol: timedelta) -> Shift | None:
    """The shift a moment belongs to (within tolerance); the nearest one when several do."""
    best: Shift | None = None
    best_gap = timedelta.max
    for sh in shifts:
        if sh.starts_at - tol <= at <= sh.ends_at + tol:
            gap = sh.starts_at - at if at < sh.starts_at else (at - sh.ends_at if at > sh.ends_at else timedelta(0))
            if gap < best_gap:
                best, best_gap = sh, gap
    return best


def _wrong_zone(scan: LogScan, shifts: list[Shift], tol: timedelta) -> bool:
    """True when the scan falls in shifts of the volunteer, none of them at the scan's zone."""
    if scan.zone_id is None:
        return False
    in_some = False
    for sh in shifts:
        if sh.starts_at - tol <= scan.at <= sh.ends_at + tol:
            if sh.zone_id == scan.zone_id:
                return False
            in_some = True
    return in_some


class _Pairing:
    """Replays the volunteer's counted scans in time order, as the gate would have seen them in order."""

    def __init__(self, shifts: list[Shift], policy: HoursPolicy) -> None:
        self.shifts, self.policy = shifts, policy
        self.tol = timedelta(minutes=policy.shift_tolerance_minutes)
        self.drafts: list[_Draft] = []
        self.anomalies: list[Anomaly] = []
        self.duplicates: list[str] = []
        self.skewed: list[str] = []
        self.revoked: list[str] = []
        self.wrong_zone: list[str] = []

    def run(self, ordered: list[LogScan]) -> None:
        policy, window = self.policy, self.policy.double_scan_seconds
        open_scan: LogScan | None = None
        open_day: date | None = None
        last_at: datetime | None = None  # last counted scan: the gate's debounce runs from it
        prev_id = None
        for s in ordered:
            if s.scan_id == prev_id:  # the same row twice (at-least-once delivery): once is enough
                continue
            prev_id = s.scan_id
            if CLOCK_SKEW in s.warnings:
                self.skewed.append(s.scan_id)
            verdict = s.verdict
            if verdict == DUPLICATE:
                self.duplicates.append(s.scan_id)
                continue
            if verdict != CHECKED_IN and verdict != CHECKED_OUT:
                continue  # rejected scans never count
            if s.card_revoked:
                self.revoked.append(s.scan_id)
                if not policy.count_revoked:
                    continue
            if last_at is not None and (s.at - last_at).total_seconds() < window:
                self.duplicates.append(s.scan_id)
                continue
            last_at = s.at
            if _wrong_zone(s, self.shifts, self.tol):
                self.wrong_zone.append(s.scan_id)
            if open_scan is not None:
                if service_day(s.at, policy) == open_day:
                    # In or out is decided by order, not by the label: a late replay gets labels backwards.
                    repaired = open_scan.verdict != CHECKED_IN or verdict != CHECKED_OUT
                    flags = ("order_repaired",) if repaired else ()
                    self.drafts.append(_Draft(open_scan.scan_id, open_scan.at, s.at, open_scan.scan_id, s.scan_id, flags))
                    open_scan = None
                    continue
                # A session never crosses into the next service day: the open one lacks its check-out.
                self._missing_checkout(open_scan, s.at)
                open_scan = None
                if verdict == CHECKED_OUT:
                    # The gate closing the presence it still held; the volunteer then scans again to check in.
                    self._unpaired_checkout(s)
                    continue
            open_scan, open_day = s, service_day(s.at, policy)
            if _covering(s.at, self.shifts, self.tol) is None:
                self.anomalies.append(Anomaly(OUTSIDE_SHIFT, (s.scan_id,), s.scan_id))
        if open_scan is not None:
            self._missing_checkout(open_scan, None)
        self._summary_anomalies()

    def _missing_checkout(self, scan: LogScan, limit: datetime | None) -> None:
        end: datetime | None = None
        flags: tuple[str, ...] = (MISSING_CHECKOUT,)
        if self.policy.missing_checkout == "close_at_shift_end":
            shift = _covering(scan.at, self.shifts, self.tol)
            if shift is not None and shift.ends_at > scan.at:
                end = shift.ends_at if limit is None else min(shift.ends_at, limit)
                flags = (MISSING_CHECKOUT, "closed_at_shift_end")
        self.drafts.append(_Draft(scan.scan_id, scan.at, end, scan.scan_id, None, flags))
        self.anomalies.append(Anomaly(MISSING_CHECKOUT, (scan.scan_id,), scan.scan_id))

    def _unpaired_checkout(self, scan: LogScan) -> None:
        key: str | None = None
        if self.policy.unpaired_checkout == "from_shift_start":
            shift = _covering(scan.at, self.shifts, self.tol)
            if shift is not None:
                start = shift.starts_at
                if self.drafts:  # never reach back into time already credited
                    last = self.drafts[-1]
                    start = max(start, last.end or last.start)
                if start < scan.at:
                    key = scan.scan_id
                    self.drafts.append(_Draft(key, start, scan.at, None, scan.scan_id, ("inferred_start",)))
        self.anomalies.append(Anomaly(UNPAIRED_CHECKOUT, (scan.scan_id,), key))

    def _summary_anomalies(self) -> None:
        if len(self.duplicates) >= self.policy.many_duplicates:
            self.anomalies.append(
                Anomaly(MANY_DUPLICATES, tuple(self.duplicates), detail=f"{len(self.duplicates)} duplicate scans")
            )
        for kind, ids in ((CLOCK_SKEW, self.skewed), (AFTER_REVOCATION, self.revoked), (WRONG_ZONE, self.wrong_zone)):
            if ids:
                self.anomalies.append(Anomaly(kind, tuple(ids)))


def _apply_corrections(
    drafts: list[_Draft], corrections: Iterable[Correction], anomalies: list[Anomaly]
) -> set[str]:
    """Apply corrections in the order they were made; return the keys of the sessions they touched."""
    by_key = {d.key: d for d in drafts}
    touched: set[str] = set()
    for c in sorted(corrections, key=lambda c: (c.at, c.correction_id)):
        if c.action == "add":
            if c.key in by_key:
                anomalies.append(Anomaly(STALE_CORRECTION, (), c.key, f"correction {c.correction_id}: key in use"))
                continue
            assert c.start is not None and c.end is not None  # checked by Correction
            d = _Draft(c.key, c.start, c.end, None, None, ("added",))
            drafts.append(d)
            by_key[c.key] = d
        else:
            found = by_key.get(c.key)
            if found is None:  # e.g. the policy changed and the log now pairs differently
                anomalies.append(Anomaly(STALE_CORRECTION, (), c.key, f"correction {c.correction_id}: no such session"))
                continue
            if c.action == "void":
                if "voided" not in found.flags:
                    found.flags += ("voided",)
            else:
                start, end = c.start or found.start, c.end or found.end
                if end is not None and end <= start:
                    anomalies.append(
                        Anomaly(STALE_CORRECTION, (), c.key, f"correction {c.correction_id}: ends before it starts")
                    )
                    continue
                found.start, found.end = start, end
                if "corrected" not in found.flags:
                    found.flags += ("corrected",)
        touched.add(c.key)
    return touched


def _credit(d: _Draft, policy: HoursPolicy) -> Session:
    flags = d.flags
    raw = credited = 0
    if d.end is not None:
        raw = _minute(d.end) - _minute(d.start)
        net = raw
        if policy.break_after_hours is not None and raw > policy.break_after_hours * 60:
            net = max(0, raw - policy.break_minutes)
            flags += ("break_deducted",)
        if "voided" in flags:
            credited = 0
        elif net < policy.min_session_minutes:
            flags += ("below_minimum",)
        else:
            credited = _round(net, policy) if policy.rounding_scope == "session" else net
    return Session(d.key, d.start, d.end, service_day(d.start, policy), raw, credited, d.in_id, d.out_id, flags)


def _day_totals(sessions: list[Session], policy: HoursPolicy) -> tuple[DayTotal, ...]:
    sums: dict[date, list[int]] = {}
    for s in sessions:
        acc = sums.setdefault(s.day, [0, 0])
        if "voided" not in s.flags:
            acc[0] += s.raw_minutes
            acc[1] += s.credited_minutes
    cap = policy.daily_cap_minutes
    days = []
    for day in sorted(sums):
        raw, credited = sums[day]
        minutes = _round(credited, policy) if policy.rounding_scope == "day" else credited
        capped = cap is not None and minutes > cap
        days.append(DayTotal(day, raw, credited, cap if capped and cap is not None else minutes, capped))
    return tuple(days)


def _overlaps(sessions: list[Session]) -> list[Anomaly]:
    found: list[Anomaly] = []
    latest: Session | None = None
    for s in sessions:
        if s.end is None or "voided" in s.flags:
            continue
        if latest is not None and latest.end is not None and s.start < latest.end:
            ids = tuple(i for i in (latest.in_scan_id, s.in_scan_id) if i)
            found.append(Anomaly(OVERLAPPING_SESSIONS, ids, s.key, f"overlaps session {latest.key}"))
        if latest is None or (latest.end is not None and s.end > latest.end):
            latest = s
    return found


def derive_hours(
    scans: Iterable[LogScan],
    shifts: Iterable[Shift],
    policy: HoursPolicy,
    corrections: Iterable[Correction] = (),
    *,
    volunteer_id: str | None = None,
) -> VolunteerHours:
    """One volunteer's sessions, service-day totals and anomalies, from their scans in any order."""
    ordered = sorted(scans, key=lambda s: (s.at, s.scan_id))
    ids = {s.volunteer_id for s in ordered}
    if volunteer_id is not None:
        ids.add(volunteer_id)
    if len(ids) > 1:
        raise ValueError(f"derive_hours takes one volunteer's scans; got {len(ids)} volunteers")
    vid = volunteer_id if volunteer_id is not None else (ids.pop() if ids else "")
    pairing = _Pairing(sorted(shifts, key=lambda sh: (sh.starts_at, sh.shift_id)), policy)
    pairing.run(ordered)
    anomalies = pairing.anomalies
    limit = policy.overlong_hours * 60
    for d in pairing.drafts:  # judged on the log as scanned, before any correction
        if d.end is not None and _minute(d.end) - _minute(d.start) > limit:
            evidence = tuple(i for i in (d.in_id, d.out_id) if i)
            anomalies.append(Anomaly(OVERLONG_SESSION, evidence, d.key))
    touched = _apply_corrections(pairing.drafts, corrections, anomalies) if corrections else set()
    sessions = [_credit(d, policy) for d in sorted(pairing.drafts, key=lambda d: (d.start, d.key))]
    anomalies.extend(_overlaps(sessions))
    if touched:
        anomalies = [
            Anomaly(a.kind, a.scan_ids, a.session_key, a.detail, True) if a.session_key in touched else a
            for a in anomalies
        ]
    return VolunteerHours(vid, tuple(sessions), _day_totals(sessions, policy), tuple(anomalies))


@dataclass(frozen=True, slots=True)
class Profile:
    """What the summary needs to know of a volunteer (from the roster)."""

    category: str = "general"
    birth_year: int | None = None


@dataclass(frozen=True, slots=True)
class CategoryTotal:
    volunteers: int
    minutes: int

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True, slots=True)
class EventSummary:
    volunteers: int  # those credited at least one minute
    total_minutes: int
    seniors: int  # aged 65 or over in the event's year (高齡志工)
    unknown_age: int
    by_category: Mapping[str, CategoryTotal]

    @property
    def total_hours(self) -> float:
        return self.total_minutes / 60

    @property
    def average_hours(self) -> float:
        return self.total_hours / self.volunteers if self.volunteers else 0.0

    @property
    def senior_share(self) -> float:
        return self.seniors / self.volunteers if self.volunteers else 0.0


def summarize(results: Iterable[VolunteerHours], profiles: Mapping[str, Profile], year: int) -> EventSummary:
    """Event totals over the volunteers who were credited time; those without a profile count as unknown."""
    volunteers = total = seniors = unknown_age = 0
    per_category: dict[str, list[int]] = {}
    for r in results:
        minutes = r.total_minutes
        if minutes <= 0:
            continue
        profile = profiles.get(r.volunteer_id)
        category = profile.category if profile is not None else "unknown"
        birth_year = profile.birth_year if profile is not None else None
        volunteers += 1
        total += minutes
        if birth_year is None:
            unknown_age += 1
        elif year - birth_year >= 65:
            seniors += 1
        acc = per_category.setdefault(category, [0, 0])
        acc[0] += 1
        acc[1] += minutes
    by_category = {c: CategoryTotal(v, m) for c, (v, m) in sorted(per_category.items())}
    return EventSummary(volunteers, total, seniors, unknown_age, by_category)
