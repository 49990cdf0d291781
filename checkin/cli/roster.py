"""`checkin roster ...`: import a roster file, or generate a synthetic one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from checkin.config import Config
from checkin.keys import Keys
from checkin.roster.csv import parse_roster
from checkin.roster.store import RosterConflict, import_roster
from checkin.roster.synth import generate_roster, write_roster_csv


def _report(report: Any) -> None:
    for name in ("units", "teams", "volunteers"):
        c = getattr(report, name)
        print(f"  {name:<10} inserted {c.inserted:>6}  updated {c.updated:>6}  unchanged {c.unchanged:>6}")
    print(f"  in {report.seconds:.1f} s")


async def roster_import(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                        redis: aioredis.Redis, keys: Keys) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"checkin: error: no such file: {path}", file=sys.stderr)
        return 2
    parsed = parse_roster(path.read_bytes())
    if not parsed.ok:
        print(f"{path}: refused, nothing was imported; {len(parsed.problems)} problem(s):", file=sys.stderr)
        for problem in parsed.problems:
            print(f"  line {problem.line}, column {problem.column}: {problem.message}", file=sys.stderr)
        return 1
    try:
        report = await import_roster(conn, parsed.rows, progress=True, key_path=cfg.pii_key_path)
    except RosterConflict as conflict:
        print(f"{path}: refused, nothing was imported:", file=sys.stderr)
        for problem in conflict.problems:
            print(f"  line {problem.line}, column {problem.column}: {problem.message}", file=sys.stderr)
        return 1
    print(f"imported {len(parsed.rows)} volunteer(s) from {path} ({parsed.encoding}):")
    _report(report)
    return 0


async def roster_generate(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                          redis: aioredis.Redis, keys: Keys) -> int:
    roster = generate_roster(args.size, seed=args.seed, teams=args.teams)
    write_roster_csv(roster, args.out, encoding=args.encoding)
    print(f"wrote {len(roster.volunteers)} volunteers in {len(roster.teams)} teams to {args.out} ({args.encoding})")
    return 0


def add_parsers(sub: Any, run: Any) -> None:
    roster = sub.add_parser("roster", help="volunteer rosters").add_subparsers(dest="roster_cmd", required=True)
    p = roster.add_parser("import", help="import a roster CSV (UTF-8, UTF-8 with BOM, or Big5/cp950)")
    p.add_argument("file")
    p.set_defaults(func=run, action=roster_import)
    p = roster.add_parser("generate", help="write a synthetic, seeded roster CSV for demos and load tests")
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--teams", type=int)
    p.add_argument("--out", required=True)
    p.add_argument("--encoding", default="utf-8-sig", choices=["utf-8-sig", "utf-8", "cp950"])
    p.set_defaults(func=run_offline, action=roster_generate)


def run_offline(cfg: Config, args: argparse.Namespace) -> int:
    """generate needs no servers."""
    import asyncio

    return int(asyncio.run(args.action(cfg, args, None, None, None)))
