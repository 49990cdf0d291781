"""The event's figures for the city's volunteer plan: volunteers credited, hours, the share aged 65 and over
(高齡志工), the totals per category, and insurance coverage (the plan asks for 100%: every service day served
under accident insurance), from derived hours and roster profiles. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from checkin.hours.model import VolunteerHours


@dataclass(frozen=True, slots=True)
class Profile:
    """What the summary needs to know of a volunteer (from the roster)."""

    category: str = "general"
    birth_year: int | None = None
    insured_from: date | None = None
    insured_to: date | None = None  # the last insured day, inclusive

    def insured_on(self, day: date) -> bool:
        return self.insured_from is not None and self.insured_to is not None \
            and self.insured_from <= day <= self.insured_to


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
    service_days: int = 0  # (volunteer, service day) pairs credited at least one minute
    insured_days: int = 0  # of those, the ones inside the volunteer's insurance window

    @property
    def insurance_coverage(self) -> float:
        """The share of service days served insured (1.0 when there were none to cover)."""
        return self.insured_days / self.service_days if self.service_days else 1.0

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
    volunteers = total = seniors = unknown_age = service_days = insured_days = 0
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
        for d in r.days:
            if d.minutes > 0:
                service_days += 1
                insured_days += profile is not None and profile.insured_on(d.day)
    by_category = {c: CategoryTotal(v, m) for c, (v, m) in sorted(per_category.items())}
    return EventSummary(volunteers, total, seniors, unknown_age, by_category, service_days, insured_days)
