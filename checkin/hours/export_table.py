"""Every export by its name, with its options: the one place the CLI and the office API both ask. Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from checkin.hours import exports
from checkin.hours.attendance import ATTENDANCE_HEADER, attendance_rows
from checkin.hours.exports import Member
from checkin.hours.model import VolunteerHours
from checkin.hours.record_book import BOOK_HEADER, book_rows

EXPORT_KINDS = (*exports.ALL_KINDS, "attendance")
LAYOUTS = ("plain", "book")  # records: ISO dates and decimal hours, or the record book's own layout


@dataclass(frozen=True, slots=True)
class ExportOptions:
    layout: str = "plain"
    registrar: str = ""  # 登錄人, in the book layout
    first: date | None = None  # attendance: the service days from ... to, inclusive
    last: date | None = None
    tz: ZoneInfo = ZoneInfo("Asia/Taipei")


def export_table(
    kind: str, results: Sequence[VolunteerHours], members: Mapping[str, Member],
    approved: Collection[tuple[str, date]], year: int, options: ExportOptions = ExportOptions(),
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The header and rows of one export (one of EXPORT_KINDS); ValueError names what is wrong."""
    if options.layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {options.layout!r}")
    if kind == "attendance":
        if options.first is None or options.last is None:
            raise ValueError("the attendance export needs the first and last service day (from, to)")
        return ATTENDANCE_HEADER, attendance_rows(results, members, options.first, options.last, options.tz)
    if kind == "records" and options.layout == "book":
        return BOOK_HEADER, book_rows(results, members, options.registrar)
    return exports.table(kind, results, members, approved, year)
