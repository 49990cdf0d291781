"""The synthetic roster: reproducible, shaped like the city's, and writable as an import file."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from checkin.roster.synth import (
    CSV_HEADER,
    FESTIVAL_OPENS,
    REFERENCE_YEAR,
    generate_roster,
    write_roster_csv,
)

CATEGORIES = {"general", "youth", "senior", "corporate", "family"}


@pytest.fixture(scope="module")
def big():
    return generate_roster(20_000, seed=7)


def test_same_seed_same_roster_other_seed_differs() -> None:
    assert generate_roster(500, seed=3) == generate_roster(500, seed=3)
    assert generate_roster(500, seed=3).volunteers != generate_roster(500, seed=4).volunteers


def test_city_scale_team_count() -> None:
    roster = generate_roster(78_633)
    assert len(roster.volunteers) == 78_633
    assert len(roster.teams) == 1_099


def test_ids_are_unique_and_formatted(big) -> None:
    ids = [v.volunteer_id for v in big.volunteers]
    assert ids[0] == "V000001" and len(set(ids)) == len(ids)
    assert len({v.record_book_no for v in big.volunteers}) == len(ids)
    assert all(t.team_id.startswith("T") and len(t.team_id) == 5 for t in big.teams)
    assert all(u.unit_id.startswith("U") and len(u.unit_id) == 4 for u in big.units)
    assert len({t.name for t in big.teams}) == len(big.teams)  # the CSV names teams, so names must be unique


def test_references_resolve(big) -> None:
    team_ids = {t.team_id for t in big.teams}
    unit_ids = {u.unit_id for u in big.units}
    assert all(v.team_id in team_ids for v in big.volunteers)
    assert all(t.unit_id in unit_ids for t in big.teams)


def test_shape_matches_the_city(big) -> None:
    n = len(big.volunteers)
    seniors = sum(REFERENCE_YEAR - v.birth_year >= 65 for v in big.volunteers)
    lapsed = sum(v.insured_to < FESTIVAL_OPENS for v in big.volunteers)
    assert 0.19 < seniors / n < 0.23
    assert 0.035 < lapsed / n < 0.065
    categories = Counter(v.category for v in big.volunteers)
    assert set(categories) == CATEGORIES
    assert all((v.company is not None) == (v.category == "corporate") for v in big.volunteers)
    assert all(v.insured_from < v.insured_to for v in big.volunteers)
    assert all(not v.training_special or v.training_basic for v in big.volunteers)


def test_names_are_traditional_chinese(big) -> None:
    assert all(len(v.name) == 3 for v in big.volunteers)
    surnames = Counter(v.name[0] for v in big.volunteers)
    assert surnames.most_common(1)[0][0] == "陳"
    assert any(t.name == "大安區公所志工隊" for t in generate_roster(2_000, teams=200).teams)


def test_tiny_rosters() -> None:
    assert generate_roster(0).volunteers == []
    one = generate_roster(1)
    assert len(one.teams) == 1 and len(one.units) == 1
    with pytest.raises(ValueError):
        generate_roster(-1)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp950"])
def test_write_csv(tmp_path, encoding: str) -> None:
    roster = generate_roster(300, seed=2)
    path = tmp_path / "roster.csv"
    write_roster_csv(roster, path, encoding=encoding)
    with open(path, encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 301
    first = roster.volunteers[0]
    assert rows[1][0] == first.volunteer_id and rows[1][1] == first.name
