"""Exports of derived service hours: record-book lines, team days, company (CSR) hours, the city-plan figures.

Pure: rows are built from VolunteerHours and roster facts; CSV is UTF-8 with a BOM, because Excel on a
Taiwanese office PC reads a BOM-less UTF-8 file as cp950 and garbles every Chinese name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from checkin.hours.model import DayTotal, VolunteerHours
from checkin.hours.record_rules import REASON_NAMES, RecordFacts, decide
from checkin.hours.summary import EventSummary, Profile, summarize

BOM = "\ufeff".encode()


@dataclass(frozen=True, slots=True)
class Member:
    """What the exports need to know of a volunteer besides the hours (from the roster)."""

    name: str
    record_book_no: str | None
    unit: str  # 運用單位
    service_content: str  # what the record book says was done: the event and the team
    team_id: str | None = None
    team: str = ""
    company: str | None = None  # 企業志工: the company they serve for
    category: str = "general"
    birth_year: int | None = None
    record: RecordFacts | None = None  # training and insurance, when the event enforces the record rules
    accepted_days: frozenset[date] = frozenset()  # days an admin let into the record book regardless
    insured_from: date | None = None  # the roster's accident-insurance window, inclusive
    insured_to: date | None = None


def _unknown(volunteer_id: str) -> Member:
    return Member(volunteer_id, None, "", "")


def hours_text(minutes: int) -> str:
    """Decimal hours as a record book writes them: 7.5, 8, 0.25."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def credited_days(result: VolunteerHours, member: Member | None) -> list[DayTotal]:
    """The service days the record book credits: time credited, and not left out by the record rules
    (a volunteer not on the roster has no facts for the rules to judge)."""
    facts, accepted = (member.record, member.accepted_days) if member is not None else (None, frozenset[date]())
    return [d for d in result.days if d.minutes > 0 and decide(facts, d.day, accepted).counts]


RECORD_HEADER = ("姓名", "紀錄冊編號", "服務日期", "服務時數", "服務內容", "運用單位")


def record_rows(results: Iterable[VolunteerHours], members: Mapping[str, Member]) -> list[tuple[str, ...]]:
    """One line per volunteer and service day with credited time (志願服務紀錄冊), by day, book number, name.

    Days the record rules leave out (untrained, uninsured, not accepted) are not here: see excluded_rows.
    """
    rows: list[tuple[str, ...]] = []
    for r in results:
        m = members.get(r.volunteer_id) or _unknown(r.volunteer_id)
        for d in credited_days(r, m):
            rows.append((m.name, m.record_book_no or "", d.day.isoformat(), hours_text(d.minutes),
                         m.service_content, m.unit))
    rows.sort(key=lambda row: (row[2], row[1], row[0]))
    return rows


EXCLUDED_HEADER = ("姓名", "紀錄冊編號", "服務日期", "服務時數", "原因代碼", "原因")


def excluded_rows(results: Iterable[VolunteerHours], members: Mapping[str, Member]) -> list[tuple[str, ...]]:
    """The service days with credited time that the record book leaves out, with the reasons; like record_rows."""
    rows: list[tuple[str, ...]] = []
    for r in results:
        m = members.get(r.volunteer_id) or _unknown(r.volunteer_id)
        for d in r.days:
            decision = decide(m.record, d.day, m.accepted_days)
            if d.minutes > 0 and not decision.counts:
                rows.append((m.name, m.record_book_no or "", d.day.isoformat(), hours_text(d.minutes),
                             " ".join(decision.reasons), "、".join(REASON_NAMES[x] for x in decision.reasons)))
    rows.sort(key=lambda row: (row[2], row[1], row[0]))
    return rows


TEAM_HEADER = ("志工隊", "運用單位", "服務日期", "志工人數", "服務時數", "待處理異常", "已核定")


@dataclass(frozen=True, slots=True)
class TeamDay:
    team_id: str  # "" for volunteers without a team
    team: str
    unit: str
    day: date
    volunteers: int  # credited at least one minute that day
    minutes: int
    open_anomalies: int
    approved: bool


def team_days(
    results: Iterable[VolunteerHours], members: Mapping[str, Member], approved: Collection[tuple[str, date]] = (),
) -> list[TeamDay]:
    """Per team and service day: volunteers credited, minutes, open anomalies, and whether the day is approved.

    Open anomalies are counted on the day of the session they concern (those without a session on no day):
    they are what a team lead should look at before approving that day.
    """
    acc: dict[tuple[str, date], list[int]] = {}
    names: dict[str, tuple[str, str]] = {}
    for r in results:
        m = members.get(r.volunteer_id) or _unknown(r.volunteer_id)
        team = m.team_id or ""
        names.setdefault(team, (m.team or "(無志工隊)", m.unit))
        for d in r.days:
            a = acc.setdefault((team, d.day), [0, 0, 0])
            a[0] += d.minutes > 0
            a[1] += d.minutes
        days_of = {s.key: s.day for s in r.sessions}
        for an in r.anomalies:
            if not an.resolved and an.session_key in days_of:
                acc.setdefault((team, days_of[an.session_key]), [0, 0, 0])[2] += 1
    found = [TeamDay(team, *names[team], day, people, minutes, open_anomalies, (team, day) in approved)
             for (team, day), (people, minutes, open_anomalies) in acc.items()]
    found.sort(key=lambda t: (t.team, t.team_id, t.day))
    return found


def team_rows(
    results: Iterable[VolunteerHours], members: Mapping[str, Member], approved: Collection[tuple[str, date]] = (),
) -> list[tuple[str, ...]]:
    return [(t.team, t.unit, t.day.isoformat(), str(t.volunteers), hours_text(t.minutes), str(t.open_anomalies),
             "是" if t.approved else "否") for t in team_days(results, members, approved)]


COMPANY_HEADER = ("企業", "志工人數", "服務人次", "服務時數")


def company_rows(results: Iterable[VolunteerHours], members: Mapping[str, Member]) -> list[tuple[str, ...]]:
    """Per company (企業志工, for its CSR report): volunteers, person-days served, hours; by company name."""
    acc: dict[str, list[int]] = {}
    for r in results:
        m = members.get(r.volunteer_id)
        if m is None or not m.company or r.total_minutes <= 0:
            continue
        a = acc.setdefault(m.company, [0, 0, 0])
        a[0] += 1
        a[1] += sum(1 for d in r.days if d.minutes > 0)
        a[2] += r.total_minutes
    return [(company, str(v), str(days), hours_text(minutes)) for company, (v, days, minutes) in sorted(acc.items())]


SUMMARY_HEADER = ("項目", "類別", "數值")
CATEGORY_NAMES = {"general": "一般志工", "youth": "青年志工", "senior": "高齡志工", "corporate": "企業志工",
                  "family": "家庭志工", "unknown": "不詳"}


def event_summary(results: Iterable[VolunteerHours], members: Mapping[str, Member], year: int) -> EventSummary:
    """The city plan's figures for the event (volunteers credited, hours, average, share aged 65+, by category)."""
    profiles = {vid: Profile(m.category, m.birth_year, m.insured_from, m.insured_to) for vid, m in members.items()}
    return summarize(results, profiles, year)


def summary_rows(summary: EventSummary) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        ("志工人數", "", str(summary.volunteers)),
        ("總服務時數", "", hours_text(summary.total_minutes)),
        ("平均每人服務時數", "", f"{summary.average_hours:.2f}"),
        ("65歲以上志工人數", "", str(summary.seniors)),
        ("65歲以上志工比例", "", f"{summary.senior_share * 100:.1f}%"),
        ("年齡不詳人數", "", str(summary.unknown_age)),
        ("服務人日", "", str(summary.service_days)),
        ("投保服務人日", "", str(summary.insured_days)),
        ("意外保險涵蓋率", "", f"{summary.insurance_coverage * 100:.1f}%"),
    ]
    for category, total in summary.by_category.items():
        label = CATEGORY_NAMES.get(category, category)
        rows.append(("類別志工人數", label, str(total.volunteers)))
        rows.append(("類別服務時數", label, hours_text(total.minutes)))
    return rows


def summary_json(summary: EventSummary) -> dict[str, object]:
    return {
        "volunteers": summary.volunteers, "total_hours": round(summary.total_hours, 2),
        "average_hours": round(summary.average_hours, 2), "seniors": summary.seniors,
        "senior_share": round(summary.senior_share, 4), "unknown_age": summary.unknown_age,
        "service_days": summary.service_days, "insured_days": summary.insured_days,
        "insurance_coverage": round(summary.insurance_coverage, 4),
        "by_category": {c: {"volunteers": t.volunteers, "hours": round(t.hours, 2)}
                        for c, t in summary.by_category.items()},
    }


# A spreadsheet reads a cell starting with one of these as a formula: a roster name such as
# =HYPERLINK(...) would run in the office's Excel. A leading quote makes it text (OWASP's CSV injection rule).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?%?")


def spreadsheet_cell(cell: str) -> str:
    """A cell a spreadsheet shows as the text it is; a plain number (ours, e.g. -0.5 or 12.5%) stays a number."""
    if cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def spreadsheet_row(row: Sequence[str]) -> list[str]:
    return [spreadsheet_cell(c) for c in row]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """A whole CSV file as bytes: BOM, header, rows, CRLF line ends (what spreadsheets expect); every
    cell neutralised by spreadsheet_cell."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(spreadsheet_row(header))
    writer.writerows(spreadsheet_row(r) for r in rows)
    return BOM + buf.getvalue().encode("utf-8")


def write_csv(path: Path | str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Write a BOM'd UTF-8 CSV file; return the number of data rows."""
    Path(path).write_bytes(csv_bytes(header, rows))
    return len(rows)


KINDS = ("records", "teams", "companies", "summary")
ALL_KINDS = (*KINDS, "excluded")  # excluded: the record-book days left out, with the reason


def table(
    kind: str, results: Sequence[VolunteerHours], members: Mapping[str, Member],
    approved: Collection[tuple[str, date]], year: int,
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The header and rows of one export by its name (one of ALL_KINDS)."""
    if kind == "records":
        return RECORD_HEADER, record_rows(results, members)
    if kind == "excluded":
        return EXCLUDED_HEADER, excluded_rows(results, members)
    if kind == "teams":
        return TEAM_HEADER, team_rows(results, members, approved)
    if kind == "companies":
        return COMPANY_HEADER, company_rows(results, members)
    if kind == "summary":
        return SUMMARY_HEADER, summary_rows(event_summary(results, members, year))
    raise ValueError(f"export must be one of {', '.join(ALL_KINDS)}; got {kind!r}")
