"""Service hours (服務時數) derived from the scan log under an event's hours policy: pure, no I/O.

`derive_hours` is a pure function of (scans, shifts, policy, corrections): the same inputs in any
order give the same result, so hours can always be re-derived from the append-only log.
The rules in plain words are in docs/hours.md; the types are in checkin.hours_model, the event's
figures for the city plan in checkin.hours_summary (both re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from checkin.hours_model import (
    AFTER_REVOCATION as AFTER_REVOCATION,
)
from checkin.hours_model import (  # re-exported: checkin.hours is where callers find them
    CHECKED_IN as CHECKED_IN,
)
from checkin.hours_model import (
    CHECKED_OUT as CHECKED_OUT,
)
from checkin.hours_model import (
    CLOCK_SKEW as CLOCK_SKEW,
)
from checkin.hours_model import (
    DUPLICATE as DUPLICATE,
)
from checkin.hours_model import (
    MANY_DUPLICATES as MANY_DUPLICATES,
)
from checkin.hours_model import (
    MISSING_CHECKOUT as MISSING_CHECKOUT,
)
from checkin.hours_model import (
    OUTSIDE_SHIFT as OUTSIDE_SHIFT,
)
from checkin.hours_model import (
    OVERLAPPING_SESSIONS as OVERLAPPING_SESSIONS,
)
from checkin.hours_model import (
    OVERLONG_SESSION as OVERLONG_SESSION,
)
from checkin.hours_model import (
    REJECTED as REJECTED,
)
from checkin.hours_model import (
    STALE_CORRECTION as STALE_CORRECTION,
)
from checkin.hours_model import (
    UNPAIRED_CHECKOUT as UNPAIRED_CHECKOUT,
)
from checkin.hours_model import (
    WRONG_ZONE as WRONG_ZONE,
)
from checkin.hours_model import (
    Anomaly as Anomaly,
)
from checkin.hours_model import (
    Correction as Correction,
)
from checkin.hours_model import (
    DayTotal as DayTotal,
)
from checkin.hours_model import (
    HoursPolicy as HoursPolicy,
)
from checkin.hours_model import (
    LogScan as LogScan,
)
from checkin.hours_model import (
    Session as Session,
)
from checkin.hours_model import (
    Shift as Shift,
)
from checkin.hours_model import (
    VolunteerHours as VolunteerHours,
)
from checkin.hours_model import (
    zone as zone,
)
from checkin.hours_summary import CategoryTotal as CategoryTotal
from checkin.hours_summary import EventSummary as EventSummary
from checkin.hours_summary import Profile as Profile
from checkin.hours_summary import summarize as summarize

_ONE_DAY = timedelta(days=1)
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def service_day(at: datetime, policy: HoursPolicy) -> date:
    """The service day a moment belongs to: local date, with the day starting at day_starts_hour."""
    local = at.astimezone(zone(policy.timezone))  # no work when `at` is already in that zone
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
