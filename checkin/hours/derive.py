"""Service hours (服務時數) derived from the scan log under an event's hours policy: pure, no I/O.

`derive_hours` is a pure function of (scans, shifts, policy, corrections): the same inputs in any
order give the same result, so hours can always be re-derived from the append-only log.
The rules in plain words are in docs/hours.md; the types are in checkin.hours.model, the event's
figures for the city plan in checkin.hours.summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from checkin.hours.model import (
    AFTER_REVOCATION,
    CHECKED_IN,
    CHECKED_OUT,
    CLOCK_SKEW,
    DUPLICATE,
    MANY_DUPLICATES,
    MISSING_CHECKOUT,
    OUTSIDE_SHIFT,
    OVERLAPPING_SESSIONS,
    OVERLONG_SESSION,
    STALE_CORRECTION,
    UNPAIRED_CHECKOUT,
    WRONG_ZONE,
    Anomaly,
    Correction,
    DayTotal,
    HoursPolicy,
    LogScan,
    Session,
    Shift,
    VolunteerHours,
    zone,
)

_ONE_DAY = timedelta(days=1)
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def service_day(at: datetime, policy: HoursPolicy) -> date:
    """The service day a moment belongs to: local date, with the day starting at day_starts_hour."""
    local = at.astimezone(zone(policy.timezone))  # no work when `at` is already in that zone
    return local.date() - _ONE_DAY if local.hour < policy.day_starts_hour else local.date()


def event_hours_policy(policy: Mapping[str, Any], tz: str) -> HoursPolicy:
    """An event's hours policy from its events.policy JSON: 'hours', in the event's zone unless it names one, and
    pairing scans with the gate's debounce (or replays would flip in/out parity)."""
    hours = dict(policy.get("hours") or {})
    hours.setdefault("timezone", tz)
    if "debounce_s" in policy:
        hours.setdefault("double_scan_seconds", policy["debounce_s"])
    return HoursPolicy.from_json(hours)


def service_offset_ms(policy: HoursPolicy, at: datetime) -> int:
    """What the scan script adds to a UTC time in ms so that each whole day of the sum is a service_day: the zone's
    offset at `at` less the hour the day starts. Fixed per event, as the scan script's rest-limit offset is."""
    offset = at.astimezone(zone(policy.timezone)).utcoffset()
    assert offset is not None, "a named zone always has an offset"
    return int(offset.total_seconds()) * 1000 - policy.day_starts_hour * 3_600_000


def day_number(day: date) -> int:
    """A service day as the scan script's counters name it: days since 1970-01-01."""
    return day.toordinal() - _EPOCH_DAY


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

    def __init__(self, shifts: list[Shift], policy: HoursPolicy, now: datetime | None = None) -> None:
        self.shifts, self.policy, self.now = shifts, policy, now
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
        # An annulled scan had flipped the gate's presence, and an annulment puts it back only while the
        # scan is the latest; so after one, the next counted scan's label says where the gate stood.
        resync = False
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
            if s.annulled:
                resync = True
                continue
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
            if resync:
                resync = False
                if verdict == CHECKED_OUT and open_scan is None:
                    continue  # the gate closed the annulled check-in with it: the other half of an undone pair
                if verdict == CHECKED_IN and open_scan is not None:
                    # The gate had the volunteer off site: the check-out of the open session was annulled.
                    self._missing_checkout(open_scan, s.at)
                    open_scan = None
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
            if open_day is not None and self.now is not None and self.now < _day_end(open_day, policy):
                # The volunteer's day has not ended: still on site, not a forgotten check-out (yet).
                self.drafts.append(_Draft(open_scan.scan_id, open_scan.at, None, open_scan.scan_id, None, ("on_site",)))
            else:
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
            # A later piece of a session split at a day's start ('<key>@<day>') names the whole session.
            found = by_key.get(c.key) or by_key.get(c.key.partition("@")[0])
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
        touched.add(c.key.partition("@")[0])
    return touched


def _day_end(day: date, policy: HoursPolicy) -> datetime:
    return datetime.combine(day + _ONE_DAY, time(policy.day_starts_hour), zone(policy.timezone))


def _pieces(d: _Draft, policy: HoursPolicy) -> list[_Draft]:
    """The session cut where a service day ends, so no day holds more than 24 h (a forgotten check-out on a
    shift longer than a day, a corrected end). Later pieces are keyed '<key>@<their day>'."""
    end = d.end
    if end is None or end <= _day_end(service_day(d.start, policy), policy):
        return [d]
    pieces: list[_Draft] = []
    start, key, in_id = d.start, d.key, d.in_id
    while end > (cut := _day_end(service_day(start, policy), policy)):
        pieces.append(_Draft(key, start, cut, in_id, None, d.flags + ("split",)))
        start, in_id = cut, None
        key = f"{d.key}@{service_day(cut, policy).isoformat()}"
    pieces.append(_Draft(key, start, end, None, d.out_id, d.flags + ("split",)))
    return pieces


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
    now: datetime | None = None,
) -> VolunteerHours:
    """One volunteer's sessions, service-day totals and anomalies, from their scans in any order.

    now: the moment of deriving; a session still open on a service day that has not ended by then is the
    volunteer on site (flag `on_site`, credits nothing yet), not a missing check-out. None: every day has ended.
    """
    ordered = sorted(scans, key=lambda s: (s.at, s.scan_id))
    ids = {s.volunteer_id for s in ordered}
    if volunteer_id is not None:
        ids.add(volunteer_id)
    if len(ids) > 1:
        raise ValueError(f"derive_hours takes one volunteer's scans; got {len(ids)} volunteers")
    vid = volunteer_id if volunteer_id is not None else (ids.pop() if ids else "")
    pairing = _Pairing(sorted(shifts, key=lambda sh: (sh.starts_at, sh.shift_id)), policy, now)
    pairing.run(ordered)
    anomalies = pairing.anomalies
    limit = policy.overlong_hours * 60
    for d in pairing.drafts:  # judged on the log as scanned, before any correction
        if d.end is not None and _minute(d.end) - _minute(d.start) > limit:
            evidence = tuple(i for i in (d.in_id, d.out_id) if i)
            anomalies.append(Anomaly(OVERLONG_SESSION, evidence, d.key))
    touched = _apply_corrections(pairing.drafts, corrections, anomalies) if corrections else set()
    pieces = [p for d in pairing.drafts for p in _pieces(d, policy)]
    sessions = [_credit(d, policy) for d in sorted(pieces, key=lambda d: (d.start, d.key))]
    anomalies.extend(_overlaps(sessions))
    if touched:
        anomalies = [
            Anomaly(a.kind, a.scan_ids, a.session_key, a.detail, True) if a.session_key in touched else a
            for a in anomalies
        ]
    return VolunteerHours(vid, tuple(sessions), _day_totals(sessions, policy), tuple(anomalies))
