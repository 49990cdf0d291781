"""The event's figures for the city's volunteer plan: volunteers credited, hours, the share aged 65 and over
(高齡志工) and the totals per category, from derived hours and roster profiles. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from checkin.hours_model import VolunteerHours


@dataclass(frozen=True, slots=True)
class Profile:
    """What the summary needs to know of a volunteer (from the roster)."""

    category: str = "general"
    birth_year: int | None = None


@dataclass(frozen=True, slots=True)
class CategoryTotal:
    volunteers: int
    minutes: int

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True, slots=True)
class EventSummary:
    volunteers: int  # those credited at least one minute
    total_minutes: int
    seniors: int  # aged 65 or over in the event's year (高齡志工)
    unknown_age: int
    by_category: Mapping[str, CategoryTotal]

    @property
    def total_hours(self) -> float:
        return self.total_minutes / 60

    @property
    def average_hours(self) -> float:
        return self.total_hours / self.volunteers if self.volunteers else 0.0

    @property
    def senior_share(self) -> float:
        return self.seniors / self.volunteers if self.volunteers else 0.0


def summarize(results: Iterable[VolunteerHours], profiles: Mapping[str, Profile], year: int) -> EventSummary:
    """Event totals over the volunteers who were credited time; those without a profile count as unknown."""
    volunteers = total = seniors = unknown_age = 0
    per_category: dict[str, list[int]] = {}
    for r in results:
        minutes = r.total_minutes
        if minutes <= 0:
            continue
        profile = profiles.get(r.volunteer_id)
        category = profile.category if profile is not None else "unknown"
        birth_year = profile.birth_year if profile is not None else None
        volunteers += 1
        total += minutes
        if birth_year is None:
            unknown_age += 1
        elif year - birth_year >= 65:
            seniors += 1
        acc = per_category.setdefault(category, [0, 0])
        acc[0] += 1
        acc[1] += minutes
    by_category = {c: CategoryTotal(v, m) for c, (v, m) in sorted(per_category.items())}
    return EventSummary(volunteers, total, seniors, unknown_age, by_category)
