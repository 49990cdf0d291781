"""Hand-written cases for checkin.hours.derive: one row per rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from checkin.hours.derive import derive_hours
from checkin.hours.model import Correction, HoursPolicy, LogScan, Shift
from checkin.hours.summary import Profile, summarize

TZ = ZoneInfo("Asia/Taipei")
IN, OUT, DUP, REJ = "checked_in", "checked_out", "duplicate", "rejected"


def t(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2024, 2, day, hh, mm, ss, tzinfo=TZ)


def d(day: int) -> date:
    return date(2024, 2, day)


def sc(
    sid: str, at: datetime, verdict: str = IN, zone: str | None = "Z1",
    warnings: tuple[str, ...] = (), revoked: bool = False, annulled: bool = False,
) -> LogScan:
    return LogScan(sid, "V1", at, verdict, "G-" + (zone or "x"), zone, warnings, revoked, annulled)


def sh(sid: str, start: datetime, end: datetime, zone: str = "Z1") -> Shift:
    return Shift(sid, zone, start, end)


DAY24 = [sh("S24", t(24, 9), t(24, 17))]
DAY24_25 = [*DAY24, sh("S25", t(25, 9), t(25, 17))]
PAIR_24 = [sc("a", t(24, 9)), sc("b", t(24, 17), "checked_out")]


@dataclass
class Case:
    name: str
    scans: list[LogScan]
    minutes: dict[date, int]
    kinds: set[str] = field(default_factory=set)
    shifts: list[Shift] = field(default_factory=lambda: list(DAY24))
    policy: HoursPolicy = field(default_factory=HoursPolicy)


CASES = [
    Case("simple pair", [sc("a", t(24, 9)), sc("b", t(24, 17), OUT)], {d(24): 480}),
    Case("rounds the day down to 30", [sc("a", t(24, 9)), sc("b", t(24, 12, 20), OUT)], {d(24): 180}),
    Case("rounds to nearest, halves up", [sc("a", t(24, 9)), sc("b", t(24, 12, 15), OUT)], {d(24): 210},
         policy=HoursPolicy(rounding_mode="nearest")),
    Case("seconds never decide a minute", [sc("a", t(24, 9, 0, 59)), sc("b", t(24, 9, 31, 0), OUT)], {d(24): 30}),
    Case("day scope rounds the sum",
         [sc("a", t(24, 9)), sc("b", t(24, 10, 20), OUT), sc("c", t(24, 13)), sc("e", t(24, 14, 20), OUT)],
         {d(24): 150}),
    Case("session scope rounds each",
         [sc("a", t(24, 9)), sc("b", t(24, 10, 20), OUT), sc("c", t(24, 13)), sc("e", t(24, 14, 20), OUT)],
         {d(24): 120}, policy=HoursPolicy(rounding_scope="session")),
    Case("below the minimum credits nothing", [sc("a", t(24, 9)), sc("b", t(24, 9, 10), OUT)], {d(24): 0},
         policy=HoursPolicy(min_session_minutes=15, rounding_step_minutes=1)),
    Case("daily cap", [sc("a", t(24, 8)), sc("b", t(24, 21), OUT)], {d(24): 600},
         policy=HoursPolicy(daily_cap_minutes=600, overlong_hours=14)),
    Case("break deducted above N hours", [sc("a", t(24, 9)), sc("b", t(24, 17), OUT)], {d(24): 420},
         policy=HoursPolicy(break_minutes=60, break_after_hours=6)),
    Case("no break at or under N hours", [sc("a", t(24, 9)), sc("b", t(24, 15), OUT)], {d(24): 360},
         policy=HoursPolicy(break_minutes=60, break_after_hours=6)),
    Case("missing check-out closed at shift end", [sc("a", t(24, 10))], {d(24): 420}, {"missing_checkout"}),
    Case("missing check-out left open", [sc("a", t(24, 10))], {d(24): 0}, {"missing_checkout"},
         policy=HoursPolicy(missing_checkout="leave_open")),
    Case("missing check-out with no shift stays open", [sc("a", t(24, 10))], {d(24): 0},
         {"missing_checkout", "outside_shift"}, shifts=[]),
    Case("double scans within the debounce are ignored",
         [sc("a", t(24, 9)), sc("a2", t(24, 9, 0, 20)), sc("b", t(24, 17), OUT), sc("b2", t(24, 17, 0, 30), OUT)],
         {d(24): 480}),
    Case("duplicates and rejections never count",
         [sc("r", t(24, 8), REJ), sc("x", t(24, 8, 30), DUP), sc("a", t(24, 9)), sc("b", t(24, 12), OUT)],
         {d(24): 180}),
    Case("late replay: labels backwards, order decides",
         [sc("b", t(24, 17), IN), sc("a", t(24, 9), OUT)], {d(24): 480}),
    Case("forgot to check out; the gate closes the stale presence next day, volunteer rescans",
         [sc("a", t(24, 9)), sc("b", t(25, 9), OUT), sc("c", t(25, 9, 2)), sc("e", t(25, 17), OUT)],
         {d(24): 480, d(25): 450}, {"missing_checkout", "unpaired_checkout"}, shifts=DAY24_25),
    Case("unpaired check-out ignored", [sc("a", t(24, 9)), sc("b", t(25, 17), OUT)],
         {d(24): 480}, {"missing_checkout", "unpaired_checkout"}, shifts=DAY24_25),
    Case("unpaired check-out from shift start", [sc("a", t(24, 9)), sc("b", t(25, 17), OUT)],
         {d(24): 480, d(25): 480}, {"missing_checkout", "unpaired_checkout"}, shifts=DAY24_25,
         policy=HoursPolicy(unpaired_checkout="from_shift_start")),
    Case("check-in outside any shift", [sc("a", t(24, 6)), sc("b", t(24, 12), OUT)], {d(24): 360},
         {"outside_shift"}),
    Case("check-in within tolerance is inside", [sc("a", t(24, 8, 1)), sc("b", t(24, 12), OUT)], {d(24): 210}),
    Case("wrong zone", [sc("a", t(24, 9), zone="Z2"), sc("b", t(24, 17), OUT)], {d(24): 480}, {"wrong_zone"}),
    Case("many duplicates",
         [sc("a", t(24, 9)), *[sc(f"x{i}", t(24, 10, i), DUP) for i in range(5)], sc("b", t(24, 17), OUT)],
         {d(24): 480}, {"many_duplicates"}),
    Case("clock skew", [sc("a", t(24, 9), warnings=("clock_skew",)), sc("b", t(24, 17), OUT)], {d(24): 480},
         {"clock_skew"}),
    Case("after revocation does not count", [sc("a", t(24, 9), revoked=True), sc("b", t(24, 17), OUT, revoked=True)],
         {}, {"after_revocation"}),
    Case("after revocation counts when the policy says so",
         [sc("a", t(24, 9), revoked=True), sc("b", t(24, 17), OUT, revoked=True)], {d(24): 480},
         {"after_revocation"}, policy=HoursPolicy(count_revoked=True)),
    Case("overlong session", [sc("a", t(24, 8)), sc("b", t(24, 21), OUT)], {d(24): 780}, {"overlong_session"}),
    Case("night shift stays on its service day", [sc("a", t(24, 20)), sc("b", t(25, 1, 30), OUT)],
         {d(24): 330}, shifts=[sh("N", t(24, 20), t(25, 2))]),
    Case("with the day starting at midnight the night shift splits",
         [sc("a", t(24, 20)), sc("b", t(25, 1, 30), OUT)], {d(24): 240, d(25): 90},
         {"missing_checkout", "unpaired_checkout"}, shifts=[sh("N", t(24, 20), t(25, 2))],
         policy=HoursPolicy(day_starts_hour=0)),
    Case("a forgotten check-out on a shift longer than a day is split where each service day starts",
         [sc("a", t(24, 8))], {d(24): 20 * 60, d(25): 19 * 60 + 30}, {"missing_checkout", "overlong_session"},
         shifts=[sh("L", t(24, 8), t(25, 23, 30))]),
    Case("a session closed at a night shift's end past 04:00 credits the hours after 04:00 to the next day",
         [sc("a", t(24, 20))], {d(24): 480, d(25): 120}, {"missing_checkout"},
         shifts=[sh("N", t(24, 20), t(25, 6))]),
    # Annulments: the gate labelled later scans with the annulled one still in its presence, unless the
    # annulment came while it was the latest scan (then the gate put its presence back).
    Case("annulled check-in after its check-out: the pair goes, later scans pair the right way round",
         [sc("a", t(24, 9), annulled=True), sc("b", t(24, 11), OUT), sc("c", t(24, 14)), sc("e", t(24, 14, 3), OUT)],
         {d(24): 3}, policy=HoursPolicy(rounding_step_minutes=1)),
    Case("annulled check-in while on site: the gate checks the next scan in",
         [sc("a", t(24, 9), annulled=True), sc("c", t(24, 14)), sc("e", t(24, 14, 3), OUT)],
         {d(24): 3}, policy=HoursPolicy(rounding_step_minutes=1)),
    Case("annulled check-out while latest: the session reopens and the next check-out closes it",
         [sc("a", t(24, 9)), sc("b", t(24, 11), OUT, annulled=True), sc("c", t(24, 17), OUT)], {d(24): 480}),
    Case("annulled check-out after the volunteer checked in again: its session lost its end",
         [sc("a", t(24, 9)), sc("b", t(24, 11), OUT, annulled=True), sc("c", t(24, 14)), sc("e", t(24, 14, 3), OUT)],
         {d(24): 303}, {"missing_checkout"}, policy=HoursPolicy(rounding_step_minutes=1)),
    Case("an annulled pair in mid-day leaves the day's other sessions alone",
         [sc("a", t(24, 9)), sc("b", t(24, 10), OUT), sc("c", t(24, 12), annulled=True),
          sc("e", t(24, 12, 30), OUT, annulled=True), sc("f", t(24, 13)), sc("g", t(24, 15), OUT)], {d(24): 180}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule(case: Case) -> None:
    result = derive_hours(case.scans, case.shifts, case.policy)
    assert {day.day: day.minutes for day in result.days} == case.minutes
    assert {a.kind for a in result.anomalies} == case.kinds
    again = derive_hours(list(reversed(case.scans)), list(reversed(case.shifts)), case.policy)
    assert again == result


def test_anomalies_carry_their_evidence() -> None:
    scans = [sc("a", t(24, 6), zone="Z2", warnings=("clock_skew",)), sc("b", t(24, 21), OUT)]
    by_kind = {a.kind: a for a in derive_hours(scans, DAY24, HoursPolicy()).anomalies}
    assert by_kind["outside_shift"].scan_ids == ("a",)
    assert by_kind["clock_skew"].scan_ids == ("a",)
    assert by_kind["overlong_session"].scan_ids == ("a", "b")
    assert "wrong_zone" not in by_kind  # outside every shift, so no shift's zone to be wrong about


def test_order_repair_is_flagged() -> None:
    result = derive_hours([sc("b", t(24, 17), IN), sc("a", t(24, 9), OUT)], DAY24, HoursPolicy())
    (session,) = result.sessions
    assert session.key == "a" and "order_repaired" in session.flags


def test_one_volunteer_only() -> None:
    other = LogScan("z", "V2", t(24, 10), IN, "G", "Z1")
    with pytest.raises(ValueError, match="one volunteer"):
        derive_hours([sc("a", t(24, 9)), other], DAY24, HoursPolicy())


def test_the_same_scan_twice_counts_once() -> None:
    a, b = sc("a", t(24, 9)), sc("b", t(24, 17), OUT)
    assert derive_hours([a, a, b, b], DAY24, HoursPolicy()) == derive_hours([a, b], DAY24, HoursPolicy())


def test_split_pieces_are_keyed_by_their_day_and_carry_the_scans_at_their_ends() -> None:
    result = derive_hours([sc("a", t(24, 8))], [sh("L", t(24, 8), t(26, 6))], HoursPolicy())
    assert [(s.key, s.day, s.start, s.end, s.in_scan_id) for s in result.sessions] == [
        ("a", d(24), t(24, 8), t(25, 4), "a"),
        ("a@2024-02-25", d(25), t(25, 4), t(26, 4), None),
        ("a@2024-02-26", d(26), t(26, 4), t(26, 6), None),
    ]
    assert all("split" in s.flags for s in result.sessions)
    assert max(day.minutes for day in result.days) == 24 * 60


def test_a_correction_past_the_days_end_is_split_too() -> None:
    change = Correction("c1", "change", "a", None, t(25, 10), "paper sheet", "office", t(26, 9))
    result = derive_hours(PAIR_24, DAY24, HoursPolicy(), [change])
    assert {day.day: day.minutes for day in result.days} == {d(24): 19 * 60, d(25): 6 * 60}


def test_a_later_piece_of_a_split_session_names_the_whole_session() -> None:
    shifts = [sh("L", t(24, 8), t(25, 20))]
    void = Correction("c1", "void", "a@2024-02-25", None, None, "was at home", "office", t(26, 9))
    result = derive_hours([sc("a", t(24, 8))], shifts, HoursPolicy(), [void])
    assert [(s.key, "voided" in s.flags) for s in result.sessions] == [("a", True), ("a@2024-02-25", True)]
    assert result.total_minutes == 0
    assert all(a.resolved for a in result.anomalies if a.session_key == "a")


@pytest.mark.parametrize(("now", "on_site"), [
    (t(24, 12), True),  # mid-event, mid-day
    (t(25, 3, 59), True),  # after midnight, still the 24th's service day
    (t(25, 4), False),  # the 24th's service day has ended
])
def test_no_missing_check_out_while_the_volunteers_day_is_open(now: datetime, on_site: bool) -> None:
    result = derive_hours([sc("a", t(24, 10))], DAY24, HoursPolicy(), now=now)
    (session,) = result.sessions
    kinds = {a.kind for a in result.anomalies}
    if on_site:
        assert kinds == set() and session.end is None and "on_site" in session.flags
        assert result.total_minutes == 0
    else:
        assert kinds == {"missing_checkout"} and session.end == t(24, 17)


def test_an_earlier_days_forgotten_check_out_is_flagged_while_today_is_open() -> None:
    scans = [sc("a", t(24, 10)), sc("b", t(25, 9), OUT), sc("c", t(25, 9, 2))]
    result = derive_hours(scans, DAY24_25, HoursPolicy(), now=t(25, 12))
    assert [a.kind for a in result.anomalies] == ["missing_checkout", "unpaired_checkout"]
    assert [a.scan_ids for a in result.anomalies] == [("a",), ("b",)]


# --- corrections ---------------------------------------------------------------------------------

PAIR = [sc("a", t(24, 9)), sc("b", t(24, 17), OUT)]


def fix(cid: str, action: str, key: str | None, start: datetime | None = None, end: datetime | None = None,
        reason: str = "paper sign-in sheet", minute: int = 0) -> Correction:
    return Correction(cid, action, key, start, end, reason, "office", t(28, 10, minute))


def test_void_removes_the_hours() -> None:
    result = derive_hours(PAIR, DAY24, HoursPolicy(), [fix("c1", "void", "a")])
    assert result.total_minutes == 0 and "voided" in result.sessions[0].flags


def test_add_adds_hours_under_the_correction_id() -> None:
    result = derive_hours(PAIR, DAY24, HoursPolicy(), [fix("c1", "add", None, t(25, 9), t(25, 12))])
    assert {x.day: x.minutes for x in result.days} == {d(24): 480, d(25): 180}
    assert [s.key for s in result.sessions] == ["a", "c1"]


def test_add_without_any_scans() -> None:
    result = derive_hours([], [], HoursPolicy(), [fix("c1", "add", None, t(25, 9), t(25, 12))], volunteer_id="V9")
    assert result.volunteer_id == "V9" and result.total_minutes == 180


def test_change_closes_a_missing_checkout_and_resolves_it() -> None:
    policy = HoursPolicy(missing_checkout="leave_open")
    result = derive_hours([sc("a", t(24, 9))], DAY24, policy, [fix("c1", "change", "a", end=t(24, 13))])
    assert result.total_minutes == 240
    (anomaly,) = result.anomalies
    assert anomaly.kind == "missing_checkout" and anomaly.resolved


def test_corrections_apply_in_the_order_made() -> None:
    later = fix("c2", "change", "a", end=t(24, 11), minute=5)
    earlier = fix("c1", "change", "a", end=t(24, 13), minute=1)
    assert derive_hours(PAIR, DAY24, HoursPolicy(), [later, earlier]).total_minutes == 120


def test_a_correction_to_an_unknown_session_is_reported_not_fatal() -> None:
    result = derive_hours(PAIR, DAY24, HoursPolicy(), [fix("c1", "void", "nope")])
    assert result.total_minutes == 480
    assert [a.kind for a in result.anomalies] == ["stale_correction"]


def test_an_added_overlapping_session_is_flagged() -> None:
    result = derive_hours(PAIR, DAY24, HoursPolicy(), [fix("c1", "add", None, t(24, 16), t(24, 18))])
    assert "overlapping_sessions" in {a.kind for a in result.anomalies}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": "  "}, "reason"),
        ({"action": "delete"}, "action"),
        ({"action": "add", "session_key": None, "end": None}, "start and end"),
        ({"action": "void", "session_key": None}, "session_key"),
        ({"action": "change", "start": None, "end": None}, "new start"),
        ({"action": "change", "start": t(24, 12), "end": t(24, 11)}, "end after"),
    ],
)
def test_correction_is_validated(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "correction_id": "c1", "action": "change", "session_key": "a", "start": t(24, 9), "end": t(24, 12),
        "reason": "why", "actor": "office", "at": t(28, 9),
    }
    with pytest.raises(ValueError, match=message):
        Correction(**{**base, **kwargs})  # type: ignore[arg-type]


# --- policy -------------------------------------------------------------------------------------


def test_policy_defaults_from_empty_json() -> None:
    assert HoursPolicy.from_json({}) == HoursPolicy()
    policy = HoursPolicy.from_json({"rounding_step_minutes": 15, "daily_cap_minutes": None, "timezone": "UTC"})
    assert policy.rounding_step_minutes == 15 and policy.timezone == "UTC"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"roundng_mode": "down"}, "unknown field.*roundng_mode"),
        ({"rounding_mode": "up"}, "rounding_mode must be one of down, nearest"),
        ({"rounding_step_minutes": 0}, "rounding_step_minutes must be a whole number >= 1"),
        ({"min_session_minutes": True}, "min_session_minutes must be a whole number"),
        ({"daily_cap_minutes": "600"}, "daily_cap_minutes"),
        ({"overlong_hours": 0}, "overlong_hours must be a number of hours > 0"),
        ({"day_starts_hour": 24}, "day_starts_hour must be 0..23"),
        ({"timezone": "Asia/Taipeh"}, "not a known time zone"),
        ({"count_revoked": "yes"}, "true or false"),
    ],
)
def test_policy_refuses_bad_values_clearly(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HoursPolicy.from_json(data)


def test_policy_must_be_an_object() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        HoursPolicy.from_json([])  # type: ignore[arg-type]


# --- summary ------------------------------------------------------------------------------------


def test_summarize() -> None:
    def hours(vid: str, end_hour: int) -> object:
        scans = [LogScan(vid + "a", vid, t(24, 9), IN, "G", "Z1"), LogScan(vid + "b", vid, t(24, end_hour), OUT, "G", "Z1")]
        return derive_hours(scans, DAY24, HoursPolicy())

    nothing = derive_hours([], [], HoursPolicy(), volunteer_id="V3")
    results = [hours("V1", 17), hours("V2", 13), nothing, hours("V4", 12)]
    profiles = {"V1": Profile("senior", 1950), "V2": Profile("general", 1990), "V3": Profile("youth", 2008)}
    summary = summarize(results, profiles, 2024)  # type: ignore[arg-type]
    assert summary.volunteers == 3  # V3 was credited nothing
    assert summary.total_hours == 15 and summary.average_hours == 5
    assert summary.seniors == 1 and summary.unknown_age == 1
    assert summary.senior_share == pytest.approx(1 / 3)
    assert {c: (x.volunteers, x.hours) for c, x in summary.by_category.items()} == {
        "general": (1, 4), "senior": (1, 8), "unknown": (1, 3),
    }


# --- time arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Asia/Taipei", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "UTC"])
def test_whole_minutes_match_the_timestamp(zone: str) -> None:
    from random import Random

    from checkin.hours.derive import _minute

    rnd, tz = Random(zone), ZoneInfo(zone)
    for _ in range(2000):
        at = datetime.fromtimestamp(rnd.uniform(0, 2_000_000_000), tz)
        assert _minute(at) == int(at.timestamp()) // 60
        assert _minute(at.astimezone(ZoneInfo("UTC"))) == _minute(at)


def test_service_day_turns_at_day_starts_hour() -> None:
    from checkin.hours.derive import service_day

    policy = HoursPolicy(day_starts_hour=4)
    tpe = ZoneInfo("Asia/Taipei")
    assert service_day(datetime(2024, 2, 25, 3, 59, tzinfo=tpe), policy) == date(2024, 2, 24)
    assert service_day(datetime(2024, 2, 25, 4, 0, tzinfo=tpe), policy) == date(2024, 2, 25)
    assert service_day(datetime(2024, 2, 24, 19, 59, tzinfo=ZoneInfo("UTC")), policy) == date(2024, 2, 24)
    assert service_day(datetime(2024, 2, 24, 20, 0, tzinfo=ZoneInfo("UTC")), policy) == date(2024, 2, 25)
