"""Today's counters: their days are the office's service days, and the live view reads today from them alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from checkin.hours.derive import day_number, service_day, service_offset_ms
from checkin.hours.model import HoursPolicy
from checkin.live.day_counts import HOURS, count_scan, day_chart, day_totals, gate_day
from checkin.live.snapshot import Roster, Snapshot
from checkin.live.view import LiveState

TAIPEI = ZoneInfo("Asia/Taipei")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(("tz", "starts_hour"), [("Asia/Taipei", 4), ("Asia/Taipei", 0), ("Asia/Kolkata", 4),
                                                  ("Pacific/Chatham", 6)])
def test_the_counters_days_are_the_offices_service_days(tz: str, starts_hour: int) -> None:
    policy = HoursPolicy(timezone=tz, day_starts_hour=starts_hour)
    first = datetime(2026, 2, 5, tzinfo=ZoneInfo(tz))
    offset = service_offset_ms(policy, first)
    moment = first - timedelta(hours=2)
    while moment < first + timedelta(days=3):  # every 7 minutes across three days, both sides of each boundary
        expected = day_number(service_day(moment, policy))
        assert (_ms(moment) + offset) // 3_600_000 // HOURS == expected, moment
        moment += timedelta(minutes=7)


def test_a_scan_at_a_quarter_past_midnight_counts_in_the_day_before() -> None:
    policy = HoursPolicy(timezone="Asia/Taipei", day_starts_hour=4)
    offset = service_offset_ms(policy, datetime(2026, 2, 5, tzinfo=TAIPEI))
    counts: dict[str, int] = {}
    late = _ms(datetime(2026, 2, 6, 0, 13, tzinfo=TAIPEI))
    count_scan(counts, "checked_out", "", "g1", late, offset)
    count_scan(counts, "checked_in", "", "g1", _ms(datetime(2026, 2, 6, 4, 0, tzinfo=TAIPEI)), offset)
    the_5th, the_6th = day_number(datetime(2026, 2, 5).date()), day_number(datetime(2026, 2, 6).date())
    assert day_totals(counts, the_5th) == {"in": 0, "out": 1, "dup": 0, "rej": 0}
    assert day_totals(counts, the_6th) == {"in": 1, "out": 0, "dup": 0, "rej": 0}
    assert gate_day(counts, the_5th, "g1") == (0, 1, late)
    chart = day_chart(counts, the_5th, offset)
    assert chart["buckets"][0][0] == _ms(datetime(2026, 2, 5, 4, 0, tzinfo=TAIPEI))
    assert [b[2] for b in chart["buckets"]].index(1) == 20  # 00:00-01:00 is the day's 21st hour


def test_gate_figures_keep_the_latest_scan_and_skip_scans_at_no_gate_of_the_event() -> None:
    counts: dict[str, int] = {}
    count_scan(counts, "checked_in", "", "g1", 5_000_000, 0)
    count_scan(counts, "duplicate", "debounce", "g1", 4_000_000, 0)  # a late replay: not the latest
    count_scan(counts, "rejected", "wrong_gate", "elsewhere", 6_000_000, 0)
    assert gate_day(counts, 0, "g1") == (1, 0, 5_000_000)
    assert gate_day(counts, 0, "elsewhere") == (0, 0, 0)
    assert day_totals(counts, 0) == {"in": 1, "out": 0, "dup": 1, "rej": 1}


def _roster(hours: HoursPolicy) -> Roster:
    return Roster("ev", "活動", hours.timezone, 3_600_000, {"main": "主區"}, {"g1": ("main", "一號門")}, [],
                  hours, service_offset_ms(hours, datetime(2026, 2, 5, tzinfo=ZoneInfo(hours.timezone))))


def test_the_view_shows_today_from_the_counters_without_any_stream() -> None:
    hours = HoursPolicy(timezone="Asia/Taipei")
    roster = _roster(hours)
    counts: dict[str, int] = {"on_site": 1, "in_total": 2, "out_total": 1}
    for at, verdict in ((datetime(2026, 2, 5, 9, 0), "checked_in"), (datetime(2026, 2, 6, 1, 0), "checked_out"),
                        (datetime(2026, 2, 6, 5, 0), "checked_in"), (datetime(2026, 2, 6, 5, 0, 30), "duplicate")):
        count_scan(counts, verdict, "", "g1", _ms(at.replace(tzinfo=TAIPEI)), roster.service_offset_ms)
    state = LiveState(roster, Snapshot(counts, {}, "0-0", roster.service_offset_ms))
    at_3am = state.view(_ms(datetime(2026, 2, 6, 3, 0, tzinfo=TAIPEI)))
    assert at_3am["totals"]["checked_in_today"] == 1 and at_3am["totals"]["checked_out_today"] == 1
    assert at_3am["totals"]["service_day_start_ms"] == _ms(datetime(2026, 2, 5, 4, 0, tzinfo=TAIPEI))
    assert at_3am["gates"][0]["in"] == 1 and at_3am["gates"][0]["out"] == 1
    at_6am = state.view(_ms(datetime(2026, 2, 6, 6, 0, tzinfo=TAIPEI)))
    assert at_6am["totals"]["checked_in_today"] == 1 and at_6am["totals"]["checked_out_today"] == 0
    assert at_6am["totals"]["duplicates_today"] == 1 and at_6am["totals"]["checked_in_total"] == 2
    assert sum(b[1] for b in at_6am["chart"]["buckets"]) == 1 and len(at_6am["chart"]["buckets"]) == 24


def test_entries_after_the_snapshot_move_todays_figures_with_the_scripts_offset() -> None:
    hours = HoursPolicy(timezone="Asia/Taipei")
    state = LiveState(_roster(hours), Snapshot({}, {}, "0-0", 0))  # the script counted in UTC hours: follow it
    at = _ms(datetime(2026, 2, 6, 1, 0, tzinfo=UTC))
    state.apply("1-0", {b"verdict": b"checked_in", b"gate": b"g1", b"at": str(at).encode(), b"vol": b"V1",
                        b"rx": str(at).encode(), b"zone": b"main", b"team": b"T"})
    assert state.counts[f"in@{at // 3_600_000}"] == 1
