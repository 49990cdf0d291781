"""Write a roster into Postgres: units, teams and volunteers upserted in one transaction.

Rows are COPYed into temporary tables and merged with INSERT ... ON CONFLICT DO UPDATE ... WHERE
something changed, so importing the same file twice changes nothing. Ids stay stable: a volunteer is
matched by volunteer_id when the file has one, else by record_book_no; teams and units by name.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from tqdm import tqdm

from checkin import pii
from checkin.roster.csv import Problem, RosterRow
from checkin.roster.synth import Roster

COPY_CHUNK = 10_000
Progress = Callable[[int], object]

_VOLUNTEER_COLUMNS = ("volunteer_id", "name", "team_id", "birth_year", "category", "company",
                      "record_book_no", "phone", "insured_from", "insured_to", "training_basic",
                      "training_special", "national_id_enc", "national_id_mask")


@dataclass(frozen=True)
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class ImportReport:
    units: Counts
    teams: Counts
    volunteers: Counts
    seconds: float


class RosterConflict(Exception):
    """The file disagrees with the database in a way an upsert must not paper over."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} roster conflicts, first: {problems[0]}")
        self.problems = problems


def _next_ids(prefix: str, width: int, existing: Iterable[str]) -> Callable[[], str]:
    """Hand out prefix+number ids after the highest one already used."""
    pattern = re.compile(rf"^{prefix}(\d+)\Z")
    numbers = [int(m.group(1)) for m in map(pattern.match, existing) if m]
    counter = iter(range(max(numbers, default=0) + 1, sys.maxsize))
    return lambda: f"{prefix}{next(counter):0{width}d}"


async def _resolve_ids(conn: asyncpg.Connection, rows: Sequence[RosterRow], kind: str) -> dict[str, str]:
    """Unit or team name -> its id, reusing existing ids by name and numbering new ones (U001, T0001)."""
    table, prefix, width = {"unit": ("units", "U", 3), "team": ("teams", "T", 4)}[kind]
    # descending, so that of two with one name the lowest id wins
    found = await conn.fetch(f"SELECT {kind}_id, name FROM {table} ORDER BY {kind}_id DESC")
    existing = {r["name"]: r[f"{kind}_id"] for r in found}
    new_id = _next_ids(prefix, width, existing.values())
    ids: dict[str, str] = {}
    for row in rows:
        name, given = (row.unit, row.unit_id) if kind == "unit" else (row.team, row.team_id)
        if name not in ids:
            ids[name] = given or existing.get(name) or new_id()
    return ids


async def _resolve_volunteers(conn: asyncpg.Connection, rows: Sequence[RosterRow]) -> list[str]:
    """The volunteer_id for each row; refuses a record book number already held by someone else."""
    books = [r.record_book_no for r in rows if r.record_book_no]
    holder = dict(await conn.fetch(
        "SELECT record_book_no, volunteer_id FROM volunteers WHERE record_book_no = ANY($1::text[])", books
    ))
    found = await conn.fetch("SELECT volunteer_id FROM volunteers WHERE volunteer_id ~ '^V[0-9]+$'")
    all_ids = [r[0] for r in found]
    new_id = _next_ids("V", 6, all_ids + [r.volunteer_id for r in rows if r.volunteer_id])
    ids, conflicts = [], []
    for row in rows:
        held_by = holder.get(row.record_book_no) if row.record_book_no else None
        if row.volunteer_id and held_by and held_by != row.volunteer_id:
            message = f"{row.record_book_no} already belongs to {held_by}"
            conflicts.append(Problem(row.line, "紀錄冊編號", message, f"{row.record_book_no} 已屬於 {held_by}"))
        ids.append(row.volunteer_id or held_by or new_id())
    if conflicts:
        raise RosterConflict(conflicts)
    return ids


async def _merge(conn: asyncpg.Connection, table: str, key: str, columns: Sequence[str]) -> tuple[int, int]:
    """Upsert tmp_<table> into <table>; (inserted, updated), counting only rows that really changed."""
    cols = ", ".join(columns)
    values = [c for c in columns if c != key]
    assign = ", ".join(f"{c} = EXCLUDED.{c}" for c in values)
    if table == "volunteers":
        assign += ", updated_at = now()"
    old = ", ".join(f"{table}.{c}" for c in values)
    new = ", ".join(f"EXCLUDED.{c}" for c in values)
    changed = f"({old}) IS DISTINCT FROM ({new})"
    row = await conn.fetchrow(f"""
        WITH merged AS (
            INSERT INTO {table} ({cols}) SELECT {cols} FROM tmp_{table}
            ON CONFLICT ({key}) DO UPDATE SET {assign} WHERE {changed}
            RETURNING xmax = 0 AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated
        FROM merged""")
    assert row is not None
    return row["inserted"], row["updated"]


async def _national_ids(conn: asyncpg.Connection, rows: Sequence[RosterRow], volunteer_ids: Sequence[str],
                        key_path: Path | None) -> list[tuple[bytes | None, str | None]]:
    """(ciphertext, mask) per row. An unchanged ID keeps its stored ciphertext: the nonce is random, and
    a fresh one would make re-importing the same file look like a change."""
    if not any(r.national_id for r in rows):
        return [(None, None)] * len(rows)
    if key_path is None:
        raise ValueError("the roster has national IDs: import it with the PII key (Config.pii_key_path)")
    key = pii.load_or_create_key(key_path)
    stored = dict(await conn.fetch(
        "SELECT volunteer_id, national_id_enc FROM volunteers"
        " WHERE volunteer_id = ANY($1::text[]) AND national_id_enc IS NOT NULL", list(volunteer_ids)))
    found: list[tuple[bytes | None, str | None]] = []
    for vid, row in zip(volunteer_ids, rows, strict=True):
        if row.national_id is None:
            found.append((None, None))
            continue
        old = stored.get(vid)
        try:
            same = old is not None and pii.decrypt(key, old, vid) == row.national_id
        except pii.DecryptError:
            same = False  # another key's or damaged: replace it
        found.append((old if same else pii.encrypt(key, row.national_id, vid), pii.mask(row.national_id)))
    return found


def _counts(total: int, inserted_updated: tuple[int, int]) -> Counts:
    inserted, updated = inserted_updated
    return Counts(inserted, updated, total - inserted - updated)


async def import_roster(
    conn: asyncpg.Connection, rows: Sequence[RosterRow], progress: Progress | bool | None = None,
    key_path: Path | None = None,
) -> ImportReport:
    """Upsert parsed roster rows; progress=True shows a tqdm bar on stderr, a callable gets row counts.

    Rows with national IDs need key_path (the PII key, created on first use); they are stored encrypted."""
    started = time.perf_counter()
    bar = None
    if progress is True:
        bar = tqdm(total=len(rows), unit="row", desc="import roster", file=sys.stderr)
    advance: Progress | None = bar.update if bar is not None else (progress or None)  # type: ignore[assignment]
    try:
        async with conn.transaction():
            # one importer at a time, so numbering new ids cannot race; readers are not blocked
            await conn.execute("LOCK TABLE units, teams, volunteers IN SHARE ROW EXCLUSIVE MODE")
            unit_ids = await _resolve_ids(conn, rows, "unit")
            team_ids = await _resolve_ids(conn, rows, "team")
            volunteer_ids = await _resolve_volunteers(conn, rows)
            national_ids = await _national_ids(conn, rows, volunteer_ids, key_path)
            for table in ("units", "teams", "volunteers"):
                await conn.execute(
                    f"CREATE TEMP TABLE tmp_{table} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
            await conn.copy_records_to_table("tmp_units", records=[(i, n) for n, i in unit_ids.items()],
                                             columns=("unit_id", "name"))
            team_unit = {row.team: unit_ids[row.unit] for row in rows}
            await conn.copy_records_to_table(
                "tmp_teams", records=[(i, n, team_unit[n]) for n, i in team_ids.items()],
                columns=("team_id", "name", "unit_id"))
            for start in range(0, len(rows), COPY_CHUNK):
                chunk = rows[start:start + COPY_CHUNK]
                records = [
                    (vid, r.name, team_ids[r.team], r.birth_year, r.category, r.company, r.record_book_no,
                     r.phone, r.insured_from, r.insured_to, r.training_basic, r.training_special, *nid)
                    for vid, r, nid in zip(volunteer_ids[start:start + COPY_CHUNK], chunk,
                                           national_ids[start:start + COPY_CHUNK], strict=True)
                ]
                await conn.copy_records_to_table("tmp_volunteers", records=records,
                                                 columns=_VOLUNTEER_COLUMNS)
                if advance is not None:
                    advance(len(chunk))
            merged_units = await _merge(conn, "units", "unit_id", ("unit_id", "name"))
            merged_teams = await _merge(conn, "teams", "team_id", ("team_id", "name", "unit_id"))
            merged_volunteers = await _merge(conn, "volunteers", "volunteer_id", _VOLUNTEER_COLUMNS)
            # ON COMMIT DROP does not fire when the caller's transaction made ours a savepoint
            await conn.execute("DROP TABLE tmp_units, tmp_teams, tmp_volunteers")
    finally:
        if bar is not None:
            bar.close()
    return ImportReport(_counts(len(unit_ids), merged_units), _counts(len(team_ids), merged_teams),
                        _counts(len(rows), merged_volunteers), time.perf_counter() - started)


def roster_rows(roster: Roster) -> list[RosterRow]:
    """A synthetic roster as import rows, carrying its own ids so they survive the import."""
    units = {u.unit_id: u.name for u in roster.units}
    teams = {t.team_id: t for t in roster.teams}
    rows = []
    for line, v in enumerate(roster.volunteers, start=2):
        team = teams[v.team_id]
        rows.append(RosterRow(
            line=line, name=v.name, team=team.name, unit=units[team.unit_id], volunteer_id=v.volunteer_id,
            birth_year=v.birth_year, category=v.category, company=v.company, record_book_no=v.record_book_no,
            phone=v.phone, insured_from=v.insured_from, insured_to=v.insured_to,
            training_basic=v.training_basic, training_special=v.training_special,
            team_id=team.team_id, unit_id=team.unit_id,
        ))
    return rows


async def store_roster(
    conn: asyncpg.Connection, roster: Roster, progress: Progress | bool | None = None
) -> ImportReport:
    """Store a synthetic roster through the same upsert path as a file import."""
    return await import_roster(conn, roster_rows(roster), progress)
