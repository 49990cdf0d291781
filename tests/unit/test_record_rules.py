"""The record-book rules: trained and insured on the day, or accepted by an admin."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from checkin.hours.derive import derive_hours
from checkin.hours.exports import EXCLUDED_HEADER, RECORD_HEADER, Member, excluded_rows, record_rows, table
from checkin.hours.model import HoursPolicy, LogScan, VolunteerHours
from checkin.hours.record_rules import UNINSURED, UNTRAINED, RecordFacts, decide, insured_on, reasons

D24, D25 = date(2024, 2, 24), date(2024, 2, 25)
TRAINED_INSURED = RecordFacts(True, True, date(2024, 1, 1), D24)  # insured through the 24th only


@pytest.mark.parametrize(("facts", "day", "expected"), [
    (TRAINED_INSURED, D24, ()),
    (TRAINED_INSURED, D25, (UNINSURED,)),  # insured_to is the last insured day, inclusive
    (TRAINED_INSURED, date(2023, 12, 31), (UNINSURED,)),
    (RecordFacts(True, False, date(2024, 1, 1), D25), D24, (UNTRAINED,)),  # special training missing
    (RecordFacts(False, True, date(2024, 1, 1), D25), D24, (UNTRAINED,)),  # basic training missing
    (RecordFacts(), D24, (UNTRAINED, UNINSURED)),
    (RecordFacts(True, True, date(2024, 1, 1), None), D24, (UNINSURED,)),  # an open-ended record is not insurance
])
def test_reasons(facts: RecordFacts, day: date, expected: tuple[str, ...]) -> None:
    assert reasons(facts, day) == expected
    assert insured_on(facts, day) == (UNINSURED not in expected)


def test_an_accepted_day_counts_and_keeps_its_reasons() -> None:
    untrained = RecordFacts(False, False, date(2024, 1, 1), D25)
    assert not decide(untrained, D24).counts
    accepted = decide(untrained, D24, {D24})
    assert accepted.counts and accepted.accepted and accepted.reasons == (UNTRAINED,)
    assert not decide(untrained, D25, {D24}).counts  # acceptance is per day


def test_no_facts_means_the_rules_are_off() -> None:
    d = decide(None, D24)
    assert d.counts and d.reasons == () and not d.accepted
    assert not decide(TRAINED_INSURED, D24, {D24}).accepted  # nothing to accept


def _worked(vid: str, *days: date) -> VolunteerHours:
    tz = ZoneInfo("Asia/Taipei")
    scans = []
    for n, d in enumerate(days):
        for hh in (9, 12):
            at = datetime(d.year, d.month, d.day, hh, tzinfo=tz)
            scans.append(LogScan(f"{vid}-{n}-{hh}", vid, at, "checked_in", "G1", "Z1", (), False))
    return derive_hours(scans, (), HoursPolicy(), (), volunteer_id=vid)


def test_the_exports_leave_excluded_days_out_and_list_them_with_the_reason() -> None:
    results = [_worked("V1", D24, D25), _worked("V2", D24)]
    members = {
        "V1": Member("王小明", "RB1", "觀光局", "燈會", record=TRAINED_INSURED),  # uninsured on the 25th
        "V2": Member("李小華", "RB2", "觀光局", "燈會", record=RecordFacts(insured_from=D24, insured_to=D25)),
    }
    assert record_rows(results, members) == [("王小明", "RB1", "2024-02-24", "3", "燈會", "觀光局")]
    assert excluded_rows(results, members) == [
        ("李小華", "RB2", "2024-02-24", "3", "untrained", "未完成基礎及特殊訓練"),
        ("王小明", "RB1", "2024-02-25", "3", "uninsured", "服務當日未投保"),
    ]
    accepted = {**members, "V2": Member("李小華", "RB2", "觀光局", "燈會", record=members["V2"].record,
                                       accepted_days=frozenset({D24}))}
    assert len(record_rows(results, accepted)) == 2
    assert table("excluded", results, accepted, set(), 2024) == (
        EXCLUDED_HEADER, [("王小明", "RB1", "2024-02-25", "3", "uninsured", "服務當日未投保")])
    assert table("records", results, members, set(), 2024)[0] == RECORD_HEADER
