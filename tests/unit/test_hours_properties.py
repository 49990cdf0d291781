"""Property tests for checkin.hours.derive: scenarios with a known ground truth, made messy as gates make them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.hours.derive import derive_hours
from checkin.hours.model import Correction, HoursPolicy, LogScan, Shift

TZ = ZoneInfo("Asia/Taipei")
IN, OUT, DUP = "checked_in", "checked_out", "duplicate"
TOLERANCE = timedelta(minutes=60)  # HoursPolicy's default shift tolerance

policies = st.builds(
    HoursPolicy,
    rounding_step_minutes=st.sampled_from([1, 15, 30, 60]),
    rounding_mode=st.sampled_from(["down", "nearest"]),
    rounding_scope=st.sampled_from(["day", "session"]),
    min_session_minutes=st.sampled_from([0, 10, 30]),
    daily_cap_minutes=st.sampled_from([None, 240, 480]),
    break_minutes=st.sampled_from([0, 30]),
    break_after_hours=st.sampled_from([None, 4, 6]),
    unpaired_checkout=st.sampled_from(["ignore", "from_shift_start"]),
    missing_checkout=st.sampled_from(["close_at_shift_end", "leave_open"]),
)


@dataclass(frozen=True)
class Truth:
    """A session as the policy should see it: start, end (None: open), service day."""

    start: datetime
    end: datetime | None
    day: date


@dataclass(frozen=True)
class Scenario:
    policy: HoursPolicy
    scans: list[LogScan]
    shifts: list[Shift]
    truth: list[Truth]


def minute(at: datetime) -> int:
    return int(at.timestamp()) // 60


def _pieces(s: Truth, policy: HoursPolicy) -> list[Truth]:
    """A session cut at each service day's start (day_starts_hour, local): no day holds another's time."""
    if s.end is None:
        return [s]
    found, start, day = [], s.start, s.day
    while True:
        next_start = datetime.combine(day + timedelta(days=1), time(policy.day_starts_hour), s.start.tzinfo)
        if s.end <= next_start:
            return [*found, Truth(start, s.end, day)]
        found.append(Truth(start, next_start, day))
        start, day = next_start, day + timedelta(days=1)


def expected_days(sessions: list[Truth], policy: HoursPolicy) -> dict[date, int]:
    """The policy written out plainly, independent of the module's code."""
    sessions = [piece for s in sessions for piece in _pieces(s, policy)]

    def rnd(m: int) -> int:
        step = policy.rounding_step_minutes
        return m - m % step if policy.rounding_mode == "down" else int(m / step + 0.5) * step

    per_day: dict[date, int] = {}
    for s in sessions:
        per_day.setdefault(s.day, 0)
        if s.end is None:
            continue
        net = minute(s.end) - minute(s.start)
        if policy.break_after_hours is not None and net > policy.break_after_hours * 60:
            net = max(0, net - policy.break_minutes)
        if net < policy.min_session_minutes:
            continue
        per_day[s.day] += rnd(net) if policy.rounding_scope == "session" else net
    cap = policy.daily_cap_minutes if policy.daily_cap_minutes is not None else 10**9
    return {d: min(cap, rnd(m) if policy.rounding_scope == "day" else m) for d, m in per_day.items()}


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    policy = draw(policies)
    scans: list[LogScan] = []
    shifts: list[Shift] = []
    truth: list[Truth] = []

    def add(at: datetime, verdict: str) -> None:
        scans.append(LogScan(f"s{len(scans):04d}", "V1", at, verdict, "G1", "Z1"))
        if draw(st.integers(0, 3)) == 0:  # a double scan within the same minute, as a nervous hand makes
            echo = at + timedelta(seconds=draw(st.integers(1, 59)))
            scans.append(LogScan(f"s{len(scans):04d}", "V1", echo, draw(st.sampled_from([DUP, verdict])), "G1", "Z1"))

    stale = False  # the gate still holds a presence from a forgotten check-out
    for k in sorted(draw(st.sets(st.integers(0, 9), min_size=1, max_size=4))):
        day = date(2024, 2, 10 + k)
        begin = datetime.combine(day, time(draw(st.integers(8, 12))), TZ)
        end = begin + timedelta(hours=draw(st.integers(4, 10)))
        shifts.append(Shift(f"sh{k}", "Z1", begin, end))
        cursor = begin + timedelta(minutes=draw(st.integers(-30, 60)))
        count = draw(st.integers(1, 2))
        for i in range(count):
            arrive = cursor
            leave = arrive + timedelta(minutes=draw(st.integers(5, 300)))
            cursor = leave + timedelta(minutes=draw(st.integers(5, 120)))
            forgot = i == count - 1 and draw(st.integers(0, 3)) == 0
            if stale:
                # The gate closes its stale presence at this arrival; the volunteer sees 簽退 and scans again.
                add(arrive, OUT)
                if policy.unpaired_checkout == "from_shift_start" and begin < arrive:
                    truth.append(Truth(begin, arrive, day))
                start = arrive + timedelta(seconds=draw(st.integers(60, 119)))
                add(start, IN)
                stale = False
                backwards = False
            else:
                # A late offline replay: the departure reached the gate first, so the labels are swapped.
                backwards = not forgot and draw(st.booleans())
                start = arrive
                add(start, OUT if backwards else IN)
            if forgot:
                covered = begin - TOLERANCE <= start <= end + TOLERANCE and end > start
                closes = policy.missing_checkout == "close_at_shift_end" and covered
                truth.append(Truth(start, end if closes else None, day))
                stale = True
            else:
                add(leave, IN if backwards else OUT)
                truth.append(Truth(start, leave, day))
    return Scenario(policy, draw(st.permutations(scans)), shifts, truth)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_hours_are_exactly_what_the_policy_says(sc: Scenario) -> None:
    result = derive_hours(sc.scans, sc.shifts, sc.policy)
    assert {d.day: d.minutes for d in result.days} == expected_days(sc.truth, sc.policy)
    assert [(s.start, s.end) for s in result.sessions] == [(t.start, t.end) for t in sc.truth]


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_same_input_any_order_same_result(sc: Scenario, rnd: st.SearchStrategy[object]) -> None:
    first = derive_hours(sc.scans, sc.shifts, sc.policy)
    shuffled = list(sc.scans)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert derive_hours(shuffled, list(reversed(sc.shifts)), sc.policy) == first
    assert derive_hours(sc.scans, sc.shifts, sc.policy) == first


def _as_truth(result_sessions: list[tuple[datetime, datetime | None, date]]) -> list[Truth]:
    return [Truth(a, b, d) for a, b, d in result_sessions]


def _correction(cid: str, action: str, key: str | None, start: datetime | None, end: datetime | None) -> Correction:
    return Correction(cid, action, key, start, end, "checked against the paper sheet", "office",
                      datetime(2024, 3, 1, 10, tzinfo=TZ))


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.data())
def test_void_removes_a_sessions_hours(sc: Scenario, data: st.DataObject) -> None:
    before = derive_hours(sc.scans, sc.shifts, sc.policy)
    target = data.draw(st.sampled_from(before.sessions))
    after = derive_hours(sc.scans, sc.shifts, sc.policy, [_correction("c1", "void", target.key, None, None)])
    kept = _as_truth([(s.start, s.end, s.day) for s in before.sessions if s.key != target.key])
    expected = expected_days(kept, sc.policy)
    expected.setdefault(target.day, 0)  # the day stays listed, with the voided session visible
    assert {d.day: d.minutes for d in after.days} == expected


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(0, 12 * 60), st.integers(1, 600))
def test_add_adds_a_sessions_hours(sc: Scenario, offset: int, length: int) -> None:
    start = datetime(2024, 2, 25, 5, tzinfo=TZ) + timedelta(minutes=offset)  # a day no scenario uses
    end = start + timedelta(minutes=length)
    result = derive_hours(sc.scans, sc.shifts, sc.policy, [_correction("c1", "add", None, start, end)])
    days = {d.day: d.minutes for d in result.days}
    assert days.pop(date(2024, 2, 25)) == expected_days([Truth(start, end, date(2024, 2, 25))], sc.policy)[
        date(2024, 2, 25)
    ]
    assert days == expected_days(sc.truth, sc.policy)


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.data(), st.integers(1, 600))
def test_change_changes_a_sessions_hours(sc: Scenario, data: st.DataObject, length: int) -> None:
    before = derive_hours(sc.scans, sc.shifts, sc.policy)
    target = data.draw(st.sampled_from(before.sessions))
    new_end = target.start + timedelta(minutes=length)
    after = derive_hours(sc.scans, sc.shifts, sc.policy, [_correction("c1", "change", target.key, None, new_end)])
    changed = [(s.start, new_end if s.key == target.key else s.end, s.day) for s in before.sessions]
    assert {d.day: d.minutes for d in after.days} == expected_days(_as_truth(changed), sc.policy)
