"""Who has reached the honor card (志願服務榮譽卡) and the hour tiers, across events, with the evidence.

The honor card needs at least 3 years and 300 hours of service. Our reading: the years run from the first
service day to a later service day (the third anniversary must be reached by serving), and the card is reached
on the first service day on which both hold. Hour tiers are reached on the day the running total gets there.
Pure: rows in, awards out; the same service (volunteer, event, day) given twice counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from checkin.hours.exports import hours_text

HONOR_CARD = "honor_card"
CARD_YEARS = 3
CARD_MINUTES = 300 * 60
DEFAULT_TIERS = (1500, 2000, 2500)  # hours


@dataclass(frozen=True, slots=True)
class Service:
    """One record-book line: a volunteer's credited minutes on a service day of an event."""

    volunteer_id: str
    day: date
    minutes: int
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Award:
    volunteer_id: str
    award: str  # honor_card, or hours_<N> for a tier
    reached_on: date  # the service day it was reached on
    minutes_then: int  # the running total on that day (evidence)
    first_day: date  # first service day (the start of the years)
    days_then: int  # service days up to then
    events_then: int  # distinct events up to then


def parse_tiers(text: str) -> tuple[int, ...]:
    """'1500,2000,2500' -> (1500, 2000, 2500): whole hours above zero, sorted, no repeats."""
    try:
        tiers = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise ValueError(f"tiers must be whole hours separated by commas; got {text!r}") from None
    if not tiers or min(tiers) <= 0:
        raise ValueError(f"tiers must be whole hours above zero; got {text!r}")
    return tuple(sorted(tiers))


def _anniversary(first: date, years: int) -> date:
    try:
        return first.replace(year=first.year + years)
    except ValueError:  # 29 February: the anniversary falls on 1 March
        return date(first.year + years, 3, 1)


def deduplicate(rows: Iterable[Service]) -> list[Service]:
    """One line per (volunteer, event, day); a line given twice (an export loaded twice) counts once, the larger."""
    best: dict[tuple[str, str, date], Service] = {}
    for r in rows:
        key = (r.volunteer_id, r.event_id, r.day)
        if key not in best or r.minutes > best[key].minutes:
            best[key] = r
    return sorted(best.values(), key=lambda r: (r.volunteer_id, r.day, r.event_id))


def _awards_of(rows: Sequence[Service], tiers: Sequence[int]) -> list[Award]:
    first = rows[0].day
    card_from = _anniversary(first, CARD_YEARS)
    goals = {HONOR_CARD: CARD_MINUTES, **{f"hours_{t}": t * 60 for t in tiers}}
    found: list[Award] = []
    total, days, events = 0, set[date](), set[str]()
    for i, r in enumerate(rows):
        total += r.minutes
        days.add(r.day)
        events.add(r.event_id)
        if i + 1 < len(rows) and rows[i + 1].day == r.day:
            continue  # a day is whole: award on its total, after every event of that day
        for award, minutes in list(goals.items()):
            if total >= minutes and (award != HONOR_CARD or r.day >= card_from):
                found.append(Award(r.volunteer_id, award, r.day, total, first, len(days), len(events)))
                del goals[award]
    return found


def honors(rows: Iterable[Service], tiers: Sequence[int] = DEFAULT_TIERS) -> list[Award]:
    """Every award reached, by volunteer, then the day reached (the honor card before tiers of the same day)."""
    by_volunteer: dict[str, list[Service]] = {}
    for r in deduplicate(rows):
        if r.minutes > 0:
            by_volunteer.setdefault(r.volunteer_id, []).append(r)
    return [a for vid in sorted(by_volunteer) for a in _awards_of(by_volunteer[vid], tiers)]


HONOR_HEADER = ("volunteer_id", "姓名", "紀錄冊編號", "award", "reached_on", "hours_then", "first_service_day",
                "service_days_then", "events_then")


def honor_rows(awards: Iterable[Award], names: dict[str, tuple[str, str]]) -> list[tuple[str, ...]]:
    """CSV rows; names maps volunteer id -> (name, record book number)."""
    rows: list[tuple[str, ...]] = []
    for a in awards:
        name, book = names.get(a.volunteer_id, ("", ""))
        rows.append((a.volunteer_id, name, book, a.award, a.reached_on.isoformat(), hours_text(a.minutes_then),
                     a.first_day.isoformat(), str(a.days_then), str(a.events_then)))
    return rows
