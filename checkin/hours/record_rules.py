"""Whether a volunteer's service day goes into the record book (志願服務紀錄冊), and if not, why.

The record book counts only service after basic and special training, by an insured volunteer. A day that
fails either rule is left out of the export unless an admin accepted it with a reason. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

UNTRAINED = "untrained"  # basic or special training not completed
UNINSURED = "uninsured"  # not insured on that service day
REASON_NAMES = {UNTRAINED: "未完成基礎及特殊訓練", UNINSURED: "服務當日未投保"}


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """The roster facts the rules look at (volunteers.training_basic/_special, insured_from/_to)."""

    training_basic: bool = False
    training_special: bool = False
    insured_from: date | None = None
    insured_to: date | None = None  # the last insured day, inclusive


@dataclass(frozen=True, slots=True)
class RecordDecision:
    day: date
    reasons: tuple[str, ...]  # empty: nothing against the day
    accepted: bool  # an admin accepted the day despite the reasons

    @property
    def counts(self) -> bool:
        """Whether the day's hours go into the record book."""
        return not self.reasons or self.accepted


def insured_on(facts: RecordFacts, day: date) -> bool:
    if facts.insured_from is None or facts.insured_to is None:
        return False
    return facts.insured_from <= day <= facts.insured_to


def reasons(facts: RecordFacts, day: date) -> tuple[str, ...]:
    """The reason codes against the day, in a fixed order (untrained, then uninsured)."""
    found: list[str] = []
    if not (facts.training_basic and facts.training_special):
        found.append(UNTRAINED)
    if not insured_on(facts, day):
        found.append(UNINSURED)
    return tuple(found)


def decide(facts: RecordFacts | None, day: date, accepted_days: Collection[date] = ()) -> RecordDecision:
    """The decision for one volunteer and service day; facts None means the rules are off for the event."""
    found = () if facts is None else reasons(facts, day)
    return RecordDecision(day, found, bool(found) and day in accepted_days)
