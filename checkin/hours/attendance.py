"""The attendance export: every session of the event between two service days, one line each, with its
check-in and check-out times in the event's zone and what happened to it (closed for a forgotten check-out,
corrected, voided). Pure: built from derived hours, so corrections are in it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from checkin.hours.exports import Member, hours_text
from checkin.hours.model import VolunteerHours

ATTENDANCE_HEADER = ("姓名", "紀錄冊編號", "志工隊", "服務日期", "簽到時間", "簽退時間", "計入時數", "註記")

# Session flags as the office reads them.
FLAG_WORDS = {
    "missing_checkout": "未簽退", "closed_at_shift_end": "以班次結束時間結算", "order_repaired": "順序已校正",
    "corrected": "已更正", "voided": "已作廢", "break_deducted": "已扣休息", "below_minimum": "未達最低時數",
    "split": "跨服務日分段", "on_site": "仍在場",
}


def _clock(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def attendance_rows(results: Iterable[VolunteerHours], members: Mapping[str, Member], first: date, last: date,
                    tz: ZoneInfo) -> list[tuple[str, ...]]:
    """Sessions whose service day lies in [first, last], by day, start and name."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    found: list[tuple[date, datetime, str, tuple[str, ...]]] = []
    for r in results:
        m = members.get(r.volunteer_id) or Member(r.volunteer_id, None, "", "")
        for s in r.sessions:
            if first <= s.day <= last:
                notes = "、".join(FLAG_WORDS.get(f, f) for f in s.flags)
                found.append((s.day, s.start, m.name, (m.name, m.record_book_no or "", m.team, s.day.isoformat(),
                              _clock(s.start, tz), _clock(s.end, tz), hours_text(s.credited_minutes), notes)))
    found.sort(key=lambda row: row[:3])
    return [row[3] for row in found]
