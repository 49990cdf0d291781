"""The service record book's own layout (志願服務紀錄冊, and the national volunteer information system's
upload): dates in the Republic of China calendar (民國), time as hours and minutes the way the book is
filled in by hand, and a column for whoever registers the lines (登錄人/核章). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from checkin.hours.exports import Member, credited_days
from checkin.hours.model import VolunteerHours

ROC_OFFSET = 1911  # 民國 1 is 1912

BOOK_HEADER = ("姓名", "紀錄冊編號", "服務日期", "服務時數", "服務內容", "運用單位", "登錄人")


def roc_date(day: date) -> str:
    """民國 date as the book writes it: 113/02/24 for 2024-02-24."""
    year = day.year - ROC_OFFSET
    if year < 1:
        raise ValueError(f"{day.isoformat()} is before the Republic of China calendar")
    return f"{year:03d}/{day.month:02d}/{day.day:02d}"


def book_time(minutes: int) -> str:
    """Hours and minutes as written in the book: 7小時30分, 8小時, 45分."""
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}小時{rest}分"
    return f"{hours}小時" if hours else f"{rest}分"


def book_rows(results: Iterable[VolunteerHours], members: Mapping[str, Member],
              registrar: str = "") -> list[tuple[str, ...]]:
    """The record-book lines (the same days as the records export), in the book's layout."""
    rows: list[tuple[date, str, str, tuple[str, ...]]] = []
    for r in results:
        m = members.get(r.volunteer_id) or Member(r.volunteer_id, None, "", "")
        for d in credited_days(r, m):
            line = (m.name, m.record_book_no or "", roc_date(d.day), book_time(d.minutes), m.service_content,
                    m.unit, registrar)
            rows.append((d.day, m.record_book_no or "", m.name, line))
    rows.sort(key=lambda row: row[:3])
    return [row[3] for row in rows]
