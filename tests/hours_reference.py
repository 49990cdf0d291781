"""A second, independent reading of docs/hours.md: the hours one volunteer's scans should credit.

Written from the document alone, in its own shape (a walk over the scans with explicit states, then a
ledger of pieces per service day), and importing nothing from checkin, so that a property test can hold
checkin.hours to it. Scans here are plain tuples; revoked cards and zones are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

IN, OUT = "checked_in", "checked_out"


@dataclass(frozen=True)
class Rules:
    """The hours policy fields the reference reads (docs/hours.md, 'The policy')."""

    tz: ZoneInfo
    day_starts_hour: int = 4
    step: int = 30
    mode: str = "down"
    scope: str = "day"
    minimum: int = 0
    cap: int | None = None
    double_s: int = 60
    missing: str = "close_at_shift_end"
    unpaired: str = "ignore"
    break_minutes: int = 0
    break_after_hours: float | None = None
    tolerance: timedelta = timedelta(minutes=60)


@dataclass(frozen=True)
class Scan:
    scan_id: str
    at: datetime
    label: str  # what the gate answered: checked_in, checked_out, duplicate, rejected
    annulled: bool = False


@dataclass(frozen=True)
class Visit:
    """A session as the document describes it (before any split at a day's start)."""

    key: str
    start: datetime
    end: datetime | None
    voided: bool = False


@dataclass(frozen=True)
class Fix:
    """An office correction: add / change / void."""

    cid: str
    action: str
    key: str | None
    start: datetime | None
    end: datetime | None
    at: datetime


@dataclass
class Outcome:
    visits: list[Visit] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # scan ids flagged missing_checkout
    unpaired: list[str] = field(default_factory=list)  # scan ids flagged unpaired_checkout


def day_of(at: datetime, rules: Rules) -> date:
    local = at.astimezone(rules.tz)
    return local.date() if local.hour >= rules.day_starts_hour else local.date() - timedelta(days=1)


def next_day_start(day: date, rules: Rules) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(rules.day_starts_hour), rules.tz)


def shift_of(at: datetime, shifts: list[tuple[datetime, datetime]], rules: Rules) -> tuple[datetime, datetime] | None:
    """The shift a moment is in, allowing the tolerance either side; the closest one if several."""
    near = [(max(s - at, at - e, timedelta(0)), i) for i, (s, e) in enumerate(shifts)
            if s - rules.tolerance <= at <= e + rules.tolerance]
    return shifts[min(near)[1]] if near else None


def walk(scans: list[Scan], shifts: list[tuple[datetime, datetime]], rules: Rules,
         now: datetime | None = None) -> Outcome:
    """Pairing, rules 1-5 of 'Pairing scans into sessions'."""
    out = Outcome()
    shifts = sorted(shifts)
    opened: Scan | None = None
    last: datetime | None = None
    after_annulled = False
    seen: set[str] = set()

    def forgot(s: Scan, limit: datetime | None) -> None:
        end = None
        sh = shift_of(s.at, shifts, rules)
        if rules.missing == "close_at_shift_end" and sh is not None and sh[1] > s.at:
            end = sh[1] if limit is None else min(sh[1], limit)
        out.visits.append(Visit(s.scan_id, s.at, end))
        out.missing.append(s.scan_id)

    def unpaired(s: Scan) -> None:
        out.unpaired.append(s.scan_id)
        sh = shift_of(s.at, shifts, rules)
        if rules.unpaired != "from_shift_start" or sh is None:
            return
        begin = sh[0]
        if out.visits:
            prior = out.visits[-1]
            begin = max(begin, prior.end if prior.end is not None else prior.start)
        if begin < s.at:
            out.visits.append(Visit(s.scan_id, begin, s.at))

    for s in sorted(scans, key=lambda x: (x.at, x.scan_id)):
        if s.scan_id in seen or s.label not in (IN, OUT):
            continue
        seen.add(s.scan_id)
        if s.annulled:
            after_annulled = True
            continue
        if last is not None and (s.at - last).total_seconds() < rules.double_s:
            continue
        last = s.at
        if after_annulled:
            after_annulled = False
            if opened is None and s.label == OUT:
                continue  # closed the annulled check-in: goes with it
            if opened is not None and s.label == IN:
                forgot(opened, s.at)
                opened = None
        if opened is None:
            opened = s
        elif day_of(s.at, rules) == day_of(opened.at, rules):
            out.visits.append(Visit(opened.scan_id, opened.at, s.at))
            opened = None
        else:
            forgot(opened, s.at)
            opened = None
            if s.label == OUT:
                unpaired(s)
            else:
                opened = s
    if opened is not None:
        if now is not None and now < next_day_start(day_of(opened.at, rules), rules):
            out.visits.append(Visit(opened.scan_id, opened.at, None))  # still on site
        else:
            forgot(opened, None)
    return out


def corrected(visits: list[Visit], fixes: list[Fix]) -> list[Visit]:
    """'Corrections': in the order they were made; one naming no session, or ending before it starts, is stale."""
    by_key = {v.key: v for v in visits}
    for f in sorted(fixes, key=lambda f: (f.at, f.cid)):
        if f.action == "add":
            if f.cid not in by_key and f.start is not None and f.end is not None:
                by_key[f.cid] = Visit(f.cid, f.start, f.end)
            continue
        v = by_key.get(f.key or "")
        if v is None:
            continue
        if f.action == "void":
            by_key[v.key] = replace(v, voided=True)
            continue
        start, end = f.start or v.start, f.end or v.end
        if end is None or end > start:
            by_key[v.key] = replace(v, start=start, end=end)
    return list(by_key.values())


def pieces(v: Visit, rules: Rules) -> list[Visit]:
    """'No service day holds more than 24 h': cut where each service day starts."""
    if v.end is None:
        return [v]
    found, start = [], v.start
    while v.end > (cut := next_day_start(day_of(start, rules), rules)):
        found.append(replace(v, start=start, end=cut))
        start = cut
    found.append(replace(v, start=start))
    return found


def _rounded(minutes: int, rules: Rules) -> int:
    whole, rest = divmod(minutes, rules.step)
    if rules.mode == "nearest" and 2 * rest >= rules.step:
        whole += 1
    return whole * rules.step


def _minute(at: datetime) -> int:
    return int(at.timestamp()) // 60


def day_minutes(visits: list[Visit], rules: Rules) -> dict[date, int]:
    """'Crediting': per piece, then per service day; every day a piece starts on is listed."""
    credited: dict[date, int] = {}
    for v in visits:
        for p in pieces(v, rules):
            day = day_of(p.start, rules)
            credited.setdefault(day, 0)
            if p.end is None or p.voided:
                continue
            net = _minute(p.end) - _minute(p.start)
            if rules.break_after_hours is not None and net > rules.break_after_hours * 60:
                net = max(0, net - rules.break_minutes)
            if net < rules.minimum:
                continue
            credited[day] += _rounded(net, rules) if rules.scope == "session" else net
    totals = {}
    for day, minutes in credited.items():
        total = _rounded(minutes, rules) if rules.scope == "day" else minutes
        totals[day] = total if rules.cap is None else min(total, rules.cap)
    return totals
