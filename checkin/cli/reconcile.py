"""`checkin reconcile|export|correct|approve|accept-record|anomalies|honors`: the office's post-event commands."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis

import checkin.hours.exports as exports
import checkin.hours.honors as honors
import checkin.reconcile.store as reconcile
from checkin.cli.say import out, refusing
from checkin.config import Config
from checkin.hours.export_table import EXPORT_KINDS, LAYOUTS, ExportOptions, export_table
from checkin.keys import Keys


async def _require_event(conn: asyncpg.Connection, event_id: str) -> None:
    if await conn.fetchval("SELECT 1 FROM events WHERE event_id = $1", event_id) is None:
        raise LookupError(f"no event {event_id!r}")


async def cmd_reconcile(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                        redis: aioredis.Redis, keys: Keys) -> int:
    await _require_event(conn, args.event)
    started = time.perf_counter()
    results = await reconcile.reconcile_event(conn, args.event, progress=not args.quiet)
    seconds = time.perf_counter() - started
    open_kinds = Counter(a.kind for r in results for a in r.anomalies if not a.resolved)
    resolved = Counter(a.kind for r in results for a in r.anomalies if a.resolved)
    minutes = sum(r.total_minutes for r in results)
    credited = sum(1 for r in results if r.total_minutes > 0)
    print(f"event {args.event}: {len(results):,} volunteers ({credited:,} credited), "
          f"{sum(len(r.sessions) for r in results):,} sessions, {minutes / 60:,.2f} hours "
          f"in {seconds:.1f} s")
    print("anomalies (open / resolved):")
    for kind in sorted(set(open_kinds) | set(resolved)):
        print(f"  {kind:<22} {open_kinds[kind]:>8,} / {resolved[kind]:,}")
    if not open_kinds and not resolved:
        print("  none")
    return 0


async def cmd_export(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                     redis: aioredis.Redis, keys: Keys) -> int:
    await _require_event(conn, args.event)
    results = await reconcile.reconcile_event(conn, args.event, progress=not args.quiet)
    members = await reconcile.load_members(conn, args.event)
    approved = await reconcile.load_approvals(conn, args.event)
    year = await reconcile.event_year(conn, args.event)
    zone = ZoneInfo((await reconcile.load_policy(conn, args.event)).timezone)
    options = ExportOptions(getattr(args, "layout", "plain"), getattr(args, "registrar", None) or "",
                            getattr(args, "first", None), getattr(args, "last", None), zone)
    header, rows = export_table(args.kind, results, members, approved, year, options)
    if args.out:
        exports.write_csv(args.out, header, rows)
        print(f"wrote {len(rows):,} row(s) to {args.out} (UTF-8 with BOM)")
        if args.kind == "records" and (left_out := len(exports.excluded_rows(results, members))):
            print(f"{left_out:,} service day(s) left out (untrained or uninsured): see `checkin export excluded`")
    if args.kind == "summary":
        out(exports.summary_json(exports.event_summary(results, members, year)))
    elif not args.out:
        print("checkin: error: --out is required for this export", file=sys.stderr)
        return 2
    return 0


@refusing(reconcile.DayApproved, reconcile.NotAllowed)
async def cmd_correct(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                      redis: aioredis.Redis, keys: Keys) -> int:
    policy = await reconcile.load_policy(conn, args.event)
    start = reconcile.parse_moment(args.start, policy) if args.start else None
    end = reconcile.parse_moment(args.end, policy) if args.end else None
    c = await reconcile.add_correction(conn, args.event, args.volunteer, action=args.change, reason=args.reason,
                                       actor=args.actor, session_key=args.session, start=start, end=end)
    after = await reconcile.derive_volunteer(conn, args.event, args.volunteer)
    out({"correction_id": c.correction_id, "action": c.action, "session_key": c.key,
         "volunteer_id": args.volunteer, "total_hours": after.total_minutes / 60})
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--day must be YYYY-MM-DD; got {text!r}") from None


@refusing(reconcile.NotAllowed)
async def cmd_approve(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                      redis: aioredis.Redis, keys: Keys) -> int:
    await _require_event(conn, args.event)
    day = _day(args.day)
    new = await reconcile.approve(conn, args.event, args.team, day, args.actor)
    print(f"{args.team} {day}: {'approved' if new else 'already approved'} by {args.actor}")
    return 0


@refusing(reconcile.NotAllowed)
async def cmd_accept_record(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                            redis: aioredis.Redis, keys: Keys) -> int:
    day = _day(args.day)
    await reconcile.accept_record(conn, args.event, args.volunteer, day, args.actor, args.reason)
    print(f"{args.volunteer} {day}: accepted into the record book by {args.actor}")
    return 0


async def cmd_anomalies(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                        redis: aioredis.Redis, keys: Keys) -> int:
    await _require_event(conn, args.event)
    results = await reconcile.reconcile_event(conn, args.event, progress=not args.quiet)
    found = [{"volunteer_id": r.volunteer_id, "kind": a.kind, "session_key": a.session_key,
              "scan_ids": list(a.scan_ids), "detail": a.detail, "resolved": a.resolved}
             for r in results for a in r.anomalies
             if (args.kind is None or a.kind == args.kind) and (args.all or not a.resolved)]
    out(found)
    return 0


async def cmd_honors(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                     redis: aioredis.Redis, keys: Keys) -> int:
    """Honor card and hour tiers over the record-book lines of every event (or those named), as CSV."""
    tiers = honors.parse_tiers(args.tiers)
    event_ids = [e.strip() for e in args.events.split(",") if e.strip()] if args.events else [
        r[0] for r in await conn.fetch("SELECT event_id FROM events ORDER BY starts_on, event_id")]
    services: list[honors.Service] = []
    names: dict[str, tuple[str, str]] = {}
    for event_id in event_ids:
        await _require_event(conn, event_id)
        members = await reconcile.load_members(conn, event_id)
        for r in await reconcile.reconcile_event(conn, event_id, progress=not args.quiet):
            m = members.get(r.volunteer_id)
            if m is not None:
                names[r.volunteer_id] = (m.name, m.record_book_no or "")
            services += [honors.Service(r.volunteer_id, d.day, d.minutes, event_id)
                         for d in exports.credited_days(r, m)]
    rows = honors.honor_rows(honors.honors(services, tiers), names)
    if args.out:
        exports.write_csv(args.out, honors.HONOR_HEADER, rows)
        print(f"wrote {len(rows):,} award(s) to {args.out} (UTF-8 with BOM)")
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(honors.HONOR_HEADER)
        writer.writerows(exports.spreadsheet_row(r) for r in rows)
    return 0


def add_parsers(sub: Any, run: Any) -> None:
    def leaf(name: str, action: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.set_defaults(func=run, action=action)
        p.add_argument("--event", required=True)
        return p

    p = leaf("reconcile", cmd_reconcile, "derive every volunteer's hours from the scan log; totals and anomalies")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = leaf("export", cmd_export, "CSV (UTF-8 with BOM): record-book lines, team days, company hours, summary, "
                                   "excluded record days, attendance (sessions between two days)")
    p.add_argument("kind", choices=EXPORT_KINDS)
    p.add_argument("--layout", choices=LAYOUTS, default="plain",
                   help="records: plain (ISO dates, decimal hours) or book (民國 dates, hours and minutes, 登錄人)")
    p.add_argument("--registrar", help="records --layout book: who registers the lines (登錄人)")
    p.add_argument("--from", dest="first", type=date.fromisoformat, help="attendance: first service day, YYYY-MM-DD")
    p.add_argument("--to", dest="last", type=date.fromisoformat, help="attendance: last service day, YYYY-MM-DD")
    p.add_argument("--out", help="the CSV file to write (summary also prints its figures)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = leaf("correct", cmd_correct, "add, change or void a session, with a reason (audited)")
    p.add_argument("--volunteer", required=True)
    # dest "change": `action` holds the command's handler (set_defaults) and must not be overwritten
    p.add_argument("--action", dest="change", required=True, choices=["add", "change", "void"])
    p.add_argument("--session", help="the session key (its check-in scan id) for change and void")
    p.add_argument("--start", help="ISO time; without an offset, the event's local time")
    p.add_argument("--end", help="ISO time; without an offset, the event's local time")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", required=True, help="user id of the admin or coordinator making it")

    p = leaf("approve", cmd_approve, "approve a team's hours for a service day (then only an admin may correct)")
    p.add_argument("--team", required=True)
    p.add_argument("--day", required=True, help="service day, YYYY-MM-DD")
    p.add_argument("--actor", required=True, help="user id of the admin or coordinator approving")

    p = leaf("accept-record", cmd_accept_record,
             "let an untrained or uninsured volunteer's service day into the record book (admin, audited)")
    p.add_argument("--volunteer", required=True)
    p.add_argument("--day", required=True, help="service day, YYYY-MM-DD")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", required=True, help="user id of the admin accepting")

    p = leaf("anomalies", cmd_anomalies, "list open anomalies with their evidence (scan ids)")
    p.add_argument("--kind", help="only this kind, e.g. missing_checkout")
    p.add_argument("--all", action="store_true", help="resolved ones too")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("honors", help="who reached the honor card (3 years, 300 hours) and hour tiers, across events")
    p.set_defaults(func=run, action=cmd_honors)
    p.add_argument("--tiers", default=",".join(map(str, honors.DEFAULT_TIERS)), help="hours, e.g. 1500,2000,2500")
    p.add_argument("--events", help="comma-separated event ids (default: every event)")
    p.add_argument("--out", help="write a CSV file (UTF-8 with BOM) instead of printing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
