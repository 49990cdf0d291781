"""The record book's layout: 民國 dates, hours and minutes as written by hand, the registrar column; and the
summary's insurance coverage."""

from __future__ import annotations

from datetime import date

import pytest

from checkin.hours.exports import Member, event_summary, summary_json, summary_rows
from checkin.hours.record_book import BOOK_HEADER, book_rows, book_time, roc_date
from tests.unit.test_exports import MEMBERS, worked


def test_roc_dates() -> None:
    assert roc_date(date(2024, 2, 24)) == "113/02/24"
    assert roc_date(date(1912, 1, 1)) == "001/01/01"
    assert roc_date(date(2011, 12, 31)) == "100/12/31"
    with pytest.raises(ValueError):
        roc_date(date(1911, 12, 31))


def test_hours_and_minutes_as_the_book_writes_them() -> None:
    assert [book_time(m) for m in (450, 480, 45, 0, 61)] == ["7小時30分", "8小時", "45分", "0分", "1小時1分"]


def test_book_rows_follow_the_records_export_in_the_book_layout() -> None:
    results = [worked("V1", (24, 9, 17), (25, 9, 12)), worked("V2", (24, 9, 13, )), worked("V4")]
    rows = book_rows(results, MEMBERS, registrar="王志工站")
    assert len(BOOK_HEADER) == 7 and BOOK_HEADER[-1] == "登錄人"
    assert rows == [
        ("王小明", "RB-1", "113/02/24", "8小時", "台灣燈會 交通志工隊", "觀光傳播局", "王志工站"),
        ("陳美玲", "RB-2", "113/02/24", "4小時", "台灣燈會 交通志工隊", "觀光傳播局", "王志工站"),
        ("王小明", "RB-1", "113/02/25", "3小時", "台灣燈會 交通志工隊", "觀光傳播局", "王志工站"),
    ]


def test_insurance_coverage_counts_service_days_inside_the_window() -> None:
    members = {
        "V1": Member("王小明", "RB-1", "u", "s", insured_from=date(2024, 2, 1), insured_to=date(2024, 2, 24)),
        "V2": Member("陳美玲", "RB-2", "u", "s", insured_from=date(2024, 1, 1), insured_to=date(2024, 12, 31)),
        "V3": Member("林大同", None, "u", "s"),  # never insured
    }
    results = [worked("V1", (24, 9, 17), (25, 9, 12)), worked("V2", (24, 9, 13)), worked("V3", (24, 9, 10))]
    summary = event_summary(results, members, 2024)
    assert (summary.service_days, summary.insured_days) == (4, 2)  # V1's 25th is past its window
    assert summary.insurance_coverage == 0.5
    assert summary_json(summary)["insurance_coverage"] == 0.5
    assert ("意外保險涵蓋率", "", "50.0%") in summary_rows(summary)
    assert event_summary([], members, 2024).insurance_coverage == 1.0  # nothing to cover
