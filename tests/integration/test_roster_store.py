"""Roster import against a real Postgres (the shared `pg_pool`): idempotent upserts, stable ids.

The shared database holds other tests' rows, so every roster here is tagged with ids and names of its
own, and each test runs in a transaction that is rolled back (imports nest in it as savepoints).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest

from checkin.roster.csv import parse_roster
from checkin.roster.store import Counts, RosterConflict, import_roster, store_roster
from checkin.roster.synth import Roster, generate_roster, roster_csv_rows


@pytest.fixture
async def conn(pg_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pg_pool.acquire() as connection:
        outer = connection.transaction()
        await outer.start()
        try:
            yield connection
        finally:
            await outer.rollback()


def tagged_roster(n: int, seed: int) -> Roster:
    """A synthetic roster whose ids and names no other test uses."""
    tag = f"R{secrets.token_hex(3).upper()}_"
    roster = generate_roster(n, seed=seed)
    return Roster(
        units=[replace(u, unit_id=tag + u.unit_id, name=tag + u.name) for u in roster.units],
        teams=[replace(t, team_id=tag + t.team_id, name=tag + t.name, unit_id=tag + t.unit_id)
               for t in roster.teams],
        volunteers=[replace(v, volunteer_id=tag + v.volunteer_id, team_id=tag + v.team_id,
                            record_book_no=tag + v.record_book_no) for v in roster.volunteers],
    )


def csv_of(roster: Roster, edit=None) -> bytes:
    rows = roster_csv_rows(roster)
    if edit:
        edit(rows)
    return "\r\n".join(",".join(r) for r in rows).encode("cp950")


async def test_import_then_reimport_changes_nothing(conn: asyncpg.Connection) -> None:
    roster = tagged_roster(3_000, seed=11)
    parsed = parse_roster(csv_of(roster))
    assert parsed.ok
    seen: list[int] = []
    first = await import_roster(conn, parsed.rows, progress=seen.append)
    assert first.volunteers == Counts(inserted=3_000)
    assert first.teams == Counts(inserted=len({r.team for r in parsed.rows}))
    assert first.units == Counts(inserted=len({r.unit for r in parsed.rows}))
    assert sum(seen) == 3_000

    second = await import_roster(conn, parse_roster(csv_of(roster)).rows)
    assert second.volunteers == Counts(unchanged=3_000)
    assert second.teams == Counts(unchanged=first.teams.inserted)
    assert second.units == Counts(unchanged=first.units.inserted)


async def test_stored_values_match_the_file(conn: asyncpg.Connection) -> None:
    roster = tagged_roster(200, seed=3)
    await import_roster(conn, parse_roster(csv_of(roster)).rows)
    expected = roster.volunteers[17]
    row = await conn.fetchrow(
        "SELECT v.*, t.name AS team_name, u.name AS unit_name FROM volunteers v"
        " JOIN teams t USING (team_id) JOIN units u USING (unit_id) WHERE volunteer_id = $1",
        expected.volunteer_id,
    )
    team = next(t for t in roster.teams if t.team_id == expected.team_id)
    unit = next(u for u in roster.units if u.unit_id == team.unit_id)
    assert (row["name"], row["team_name"], row["unit_name"]) == (expected.name, team.name, unit.name)
    for column in ("birth_year", "category", "company", "record_book_no", "phone", "insured_from",
                   "insured_to", "training_basic", "training_special"):
        assert row[column] == getattr(expected, column), column


async def test_changes_are_counted_and_applied(conn: asyncpg.Connection) -> None:
    roster = tagged_roster(500, seed=4)
    await import_roster(conn, parse_roster(csv_of(roster)).rows)
    first, second = roster.volunteers[0].volunteer_id, roster.volunteers[1].volunteer_id
    new_book = roster.volunteers[0].record_book_no + "NEW"

    def edit(rows: list[list[str]]) -> None:
        rows[1][1] = "林改名"
        rows[2][8] = "0900000000"
        rows.append(["", "新志工", rows[3][2], rows[3][3], "2001", "青年", "", new_book, "", "", "", "否", "否"])

    report = await import_roster(conn, parse_roster(csv_of(roster, edit)).rows)
    assert report.volunteers == Counts(inserted=1, updated=2, unchanged=498)
    assert await conn.fetchval("SELECT name FROM volunteers WHERE volunteer_id = $1", first) == "林改名"
    assert await conn.fetchval("SELECT phone FROM volunteers WHERE volunteer_id = $1", second) == "0900000000"
    new_id = await conn.fetchval("SELECT volunteer_id FROM volunteers WHERE record_book_no = $1", new_book)
    assert new_id is not None and new_id.startswith("V") and new_id[1:].isdigit()


async def test_volunteer_without_id_is_matched_by_record_book(conn: asyncpg.Connection) -> None:
    roster = tagged_roster(50, seed=5)
    await import_roster(conn, parse_roster(csv_of(roster)).rows)

    def drop_ids(rows: list[list[str]]) -> None:
        for row in rows[1:]:
            row[0] = ""
        rows[5][1] = "陳新名"

    report = await import_roster(conn, parse_roster(csv_of(roster, drop_ids)).rows)
    assert report.volunteers == Counts(inserted=0, updated=1, unchanged=49)
    books = [v.record_book_no for v in roster.volunteers]
    ids = await conn.fetch("SELECT volunteer_id FROM volunteers WHERE record_book_no = ANY($1::text[])", books)
    assert sorted(r[0] for r in ids) == sorted(v.volunteer_id for v in roster.volunteers)
    renamed = await conn.fetchval("SELECT name FROM volunteers WHERE volunteer_id = $1",
                                  roster.volunteers[4].volunteer_id)
    assert renamed == "陳新名"


async def test_record_book_held_by_another_volunteer_is_refused(conn: asyncpg.Connection) -> None:
    roster = tagged_roster(20, seed=6)
    await import_roster(conn, parse_roster(csv_of(roster)).rows)
    swapped = roster.volunteers[0].record_book_no + "X"

    def steal(rows: list[list[str]]) -> None:
        rows[1][7], rows[2][7] = rows[2][7], swapped

    with pytest.raises(RosterConflict) as caught:
        await import_roster(conn, parse_roster(csv_of(roster, steal)).rows)
    assert [(p.line, p.column) for p in caught.value.problems] == [(2, "紀錄冊編號")]
    # refused whole: nothing of that import was written
    assert await conn.fetchval("SELECT count(*) FROM volunteers WHERE record_book_no = $1", swapped) == 0


async def test_store_synthetic_roster_keeps_its_ids(conn: asyncpg.Connection) -> None:
    roster = tagged_roster(1_000, seed=8)
    report = await store_roster(conn, roster)
    assert report.volunteers.inserted == 1_000
    used = {v.team_id for v in roster.volunteers}
    teams = dict(await conn.fetch("SELECT team_id, name FROM teams WHERE team_id = ANY($1::text[])", list(used)))
    assert teams == {t.team_id: t.name for t in roster.teams if t.team_id in used}
    assert (await store_roster(conn, roster)).volunteers == Counts(unchanged=1_000)
