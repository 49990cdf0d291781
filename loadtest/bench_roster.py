"""Time the roster path at city scale: generate, write cp950, parse, import, re-import; print cards.

    .venv/bin/python -m loadtest.bench_roster [--size 78633] [--cards 5000] \
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Imports into a scratch database created on the given server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

import asyncpg

from checkin.cards.printing import cards_pdf
from checkin.roster.csv import parse_roster
from checkin.roster.store import import_roster
from checkin.roster.synth import CITY_VOLUNTEERS, generate_roster, write_roster_csv
from loadtest.bench_card_print import synthetic_cards

MIGRATIONS = Path(__file__).resolve().parents[1] / "checkin" / "migrations"


def _timed(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"{label:<28}{now - started:8.2f} s", flush=True)
    return now


def bench_cards(count: int) -> None:
    """Sign and print `count` cards for the first volunteers of a synthetic roster."""
    cards = synthetic_cards(count)
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        pages = cards_pdf(cards, Path(folder) / "cards.pdf")
        _timed(f"print {count:,} cards ({pages} pages)", t)


async def main(size: int, admin_url: str) -> None:
    t = time.perf_counter()
    roster = generate_roster(size)
    t = _timed(f"generate {size:,}", t)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.csv"
        write_roster_csv(roster, path, encoding="cp950")
        t = _timed(f"write cp950 ({path.stat().st_size / 1e6:.1f} MB)", t)
        started_total = t
        parsed = parse_roster(path.read_bytes())
        assert parsed.ok, parsed.problems[:5]
        t = _timed(f"parse ({parsed.encoding})", t)

    name = f"roster_scratch_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + f"/{name}")
        try:
            for sql_file in sorted(MIGRATIONS.glob("*.sql")):
                await conn.execute(sql_file.read_text(encoding="utf-8"))
            t = time.perf_counter()
            report = await import_roster(conn, parsed.rows, progress=True)
            t = _timed("import (empty database)", t)
            print(f"{'parse + import':<28}{t - started_total:8.2f} s   {report.volunteers}")
            report = await import_roster(conn, parsed.rows)
            t = _timed("re-import (no changes)", t)
            print(f"{'':<28}{'':8}     {report.volunteers}")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=CITY_VOLUNTEERS)
    parser.add_argument("--cards", type=int, default=5_000, help="cards to print; 0 to skip")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    asyncio.run(main(args.size, args.admin_url))
    if args.cards:
        bench_cards(args.cards)
