"""The honor card (3 years and 300 hours) and the hour tiers, with the day reached and the evidence."""

from __future__ import annotations

from datetime import date

import pytest

from checkin.hours.honors import (
    HONOR_CARD,
    HONOR_HEADER,
    Service,
    deduplicate,
    honor_rows,
    honors,
    parse_tiers,
)

H = 60  # minutes in an hour


def test_the_card_needs_both_the_hours_and_the_third_anniversary() -> None:
    rows = [Service("V1", date(2020, 3, 1), 200 * H, "E1"), Service("V1", date(2021, 3, 1), 150 * H, "E2"),
            Service("V1", date(2023, 2, 28), 8 * H, "E3"),  # 358 hours, a day short of three years
            Service("V1", date(2023, 3, 1), 8 * H, "E4")]
    [card] = honors(rows, tiers=())
    assert (card.award, card.reached_on, card.minutes_then, card.first_day) == (
        HONOR_CARD, date(2023, 3, 1), 366 * H, date(2020, 3, 1))
    assert (card.days_then, card.events_then) == (4, 4)


def test_three_years_without_300_hours_is_not_enough() -> None:
    rows = [Service("V1", date(2019, 1, 1), 100 * H), Service("V1", date(2024, 1, 1), 199 * H)]
    assert honors(rows, tiers=()) == []
    [card] = honors([*rows, Service("V1", date(2024, 6, 1), 1 * H)], tiers=())
    assert card.reached_on == date(2024, 6, 1) and card.minutes_then == 300 * H


def test_the_same_service_given_twice_counts_once() -> None:
    line = Service("V1", date(2020, 1, 1), 150 * H, "E1")
    rows = [line, line, Service("V1", date(2023, 1, 1), 149 * H, "E2")]  # an export loaded twice
    assert len(deduplicate(rows)) == 2
    assert honors(rows, tiers=()) == []
    # two events on one day are two services, both counted
    assert [a.award for a in honors([*rows, Service("V1", date(2023, 1, 1), 1 * H, "E3")], tiers=())] == [HONOR_CARD]


def test_tiers_are_reached_on_the_day_the_running_total_gets_there() -> None:
    rows = [Service("V2", date(2015 + i // 12, 1 + i % 12, 1), 50 * H, "E") for i in range(52)]  # 50 h a month
    found = {a.award: a for a in honors(rows, tiers=(1500, 2000, 2500))}
    assert set(found) == {HONOR_CARD, "hours_1500", "hours_2000", "hours_2500"}
    assert [found[f"hours_{t}"].minutes_then for t in (1500, 2000, 2500)] == [1500 * H, 2000 * H, 2500 * H]
    assert (found["hours_1500"].reached_on, found["hours_1500"].days_then) == (date(2017, 6, 1), 30)
    assert found[HONOR_CARD].reached_on == date(2018, 1, 1)  # 300 hours long before: the years decide
    assert honors(list(reversed(rows)), tiers=(1500, 2000, 2500)) == honors(rows, tiers=(1500, 2000, 2500))


def test_a_29_february_start_has_its_anniversary_on_1_march() -> None:
    rows = [Service("V1", date(2020, 2, 29), 300 * H), Service("V1", date(2023, 2, 28), 1 * H),
            Service("V1", date(2023, 3, 1), 1 * H)]
    assert [a.reached_on for a in honors(rows, tiers=())] == [date(2023, 3, 1)]


def test_parse_tiers_and_rows() -> None:
    assert parse_tiers("2500, 1500,2000,1500") == (1500, 2000, 2500)
    for bad in ("", "a,b", "0,10", "-5"):
        with pytest.raises(ValueError, match="tiers"):
            parse_tiers(bad)
    awards = honors([Service("V1", date(2020, 1, 1), 1000 * H), Service("V1", date(2023, 1, 1), 500 * H + 30)],
                    tiers=(1500,))
    assert honor_rows(awards, {"V1": ("王小明", "RB1")}) == [
        ("V1", "王小明", "RB1", HONOR_CARD, "2023-01-01", "1500.5", "2020-01-01", "2", "1"),
        ("V1", "王小明", "RB1", "hours_1500", "2023-01-01", "1500.5", "2020-01-01", "2", "1"),
    ]
    assert len(HONOR_HEADER) == len(honor_rows(awards, {})[0])
