"""The console's roster page: a roster CSV checked (nothing written) then imported, the event's shifts and
the roster's teams, and volunteers put on shifts in bulk (a team, or a CSV of pairs). Admins only."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from checkin.access.audit import audit
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.console_common import (
    admin_of,
    read_object,
    read_text,
    reload_if_live,
    uploaded,
)
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.state import state_key
from checkin.gateway.uploads import checked, takes_upload
from checkin.roster.assign import assign_pairs, assign_team, check_pairs
from checkin.roster.assign_csv import parse_pairs
from checkin.roster.csv import ParsedRoster, Problem, RosterRow, parse_roster
from checkin.roster.store import ImportReport, RosterConflict, import_roster

PREFIX = "/api/v1/events/{event_id}"

PREVIEW_ROWS = 20


class _DryRun(Exception):
    """Raised inside the import's transaction so that a check writes nothing."""


def _problems(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"line": p.line, "column": p.column, "message": p.message, "message_zh": p.zh or p.message}
            for p in problems]


def _preview(rows: list[RosterRow]) -> list[dict[str, Any]]:
    return [{"line": r.line, "volunteer_id": r.volunteer_id, "name": r.name, "team": r.team, "unit": r.unit,
             "record_book_no": r.record_book_no} for r in rows[:PREVIEW_ROWS]]


def _counts(report: ImportReport) -> dict[str, dict[str, int]]:
    return {name: {"inserted": c.inserted, "updated": c.updated, "unchanged": c.unchanged}
            for name, c in (("units", report.units), ("teams", report.teams), ("volunteers", report.volunteers))}


def _refused(parsed: ParsedRoster | None, problems: list[Problem]) -> web.Response:
    return json_response({"error": "roster_refused", "field": "file", "encoding": parsed.encoding if parsed else None,
                          "message": f"the file has {len(problems)} problem(s); nothing was written",
                          "problems": _problems(problems)}, 422)


async def _run_import(request: web.Request, *, write: bool) -> web.Response:
    event_id, who = await checked(request, admin_of)
    # In a thread: the city's 78,633 rows take about 3 s to parse, which would otherwise hold every scan on this
    # loop. The thread still shares the GIL: a /healthz meanwhile waits about 7 ms at the median, not 2
    # (python -m loadtest.bench_roster_upload).
    parsed = await asyncio.to_thread(parse_roster, uploaded(await read_object(request)))
    if not parsed.ok:
        return _refused(parsed, parsed.problems)
    state = request.app[state_key]
    report: ImportReport | None = None
    try:
        async with postgres_guard(), state.pool.acquire() as conn, conn.transaction():
            # The check runs the real import and rolls it back: the counts it shows are the import's own.
            report = await import_roster(conn, parsed.rows, key_path=state.config.pii_key_path)
            if not write:
                raise _DryRun
            await audit(conn, who.user_id, "roster_import", event_id, None,
                        {"encoding": parsed.encoding, "rows": len(parsed.rows), **_counts(report)})
    except _DryRun:
        pass
    except RosterConflict as conflict:
        return _refused(parsed, conflict.problems)
    except ValueError as exc:  # national IDs without a PII key on this server
        raise ApiError(409, "no_pii_key", str(exc), "file") from None
    assert report is not None
    return json_response({"written": write, "encoding": parsed.encoding, "rows": len(parsed.rows),
                          "columns": parsed.columns, "preview": _preview(parsed.rows), "counts": _counts(report)})


@takes_upload(admin_of)
async def post_roster_check(request: web.Request) -> web.Response:
    return await _run_import(request, write=False)


@takes_upload(admin_of)
async def post_roster_import(request: web.Request) -> web.Response:
    return await _run_import(request, write=True)


async def get_shifts(request: web.Request) -> web.Response:
    """The event's shifts (with how many are on each) and the roster's teams: what a bulk assignment picks."""
    event_id, _ = await admin_of(request)
    pool = request.app[state_key].pool
    async with postgres_guard():
        shifts = await pool.fetch(
            "SELECT s.shift_id, s.name, s.zone_id, s.starts_at, s.ends_at, s.required,"
            " (SELECT count(*) FROM assignments a WHERE a.shift_id = s.shift_id) AS assigned"
            " FROM shifts s WHERE s.event_id = $1 ORDER BY s.starts_at, s.shift_id", event_id)
        teams = await pool.fetch(
            "SELECT t.team_id, t.name, count(v.volunteer_id) AS volunteers FROM teams t"
            " LEFT JOIN volunteers v USING (team_id) GROUP BY t.team_id, t.name ORDER BY t.name, t.team_id")
    return json_response({
        "shifts": [{**dict(r), "starts_at": r["starts_at"].isoformat(), "ends_at": r["ends_at"].isoformat()}
                   for r in shifts],
        "teams": [dict(r) for r in teams]})


async def post_assign_team(request: web.Request) -> web.Response:
    event_id, who = await admin_of(request)
    body = await read_object(request)
    team_id = read_text(body, "team_id", required=True, most=64) or ""
    shift_id = read_text(body, "shift_id", required=True, most=64) or ""
    state = request.app[state_key]
    async with postgres_guard(), state.pool.acquire() as conn:
        members, added = await assign_team(conn, event_id, team_id, shift_id, who.user_id)
        await reload_if_live(conn, state, event_id)
    return json_response({"team_id": team_id, "shift_id": shift_id, "members": members, "added": added})


@takes_upload(admin_of)
async def post_assign_csv(request: web.Request) -> web.Response:
    """dry_run: true checks the file against the roster and the event's shifts and writes nothing."""
    event_id, who = await checked(request, admin_of)
    body = await read_object(request)
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ApiError(400, "invalid_field", "dry_run is true or false", "dry_run")
    parsed = await asyncio.to_thread(parse_pairs, uploaded(body))
    problems = parsed.problems
    state = request.app[state_key]
    async with postgres_guard(), state.pool.acquire() as conn:
        if not problems:
            problems = await check_pairs(conn, event_id, parsed.rows)
        if problems:
            return json_response({"error": "assignments_refused", "field": "file",
                                  "message": f"the file has {len(problems)} problem(s); nothing was written",
                                  "problems": _problems(problems)}, 422)
        added = 0
        if not dry_run:
            added = await assign_pairs(conn, event_id, parsed.rows, who.user_id)
            await reload_if_live(conn, state, event_id)
    return json_response({"written": not dry_run, "encoding": parsed.encoding, "lines": len(parsed.rows),
                          "added": added})


def setup(app: web.Application) -> None:
    files = ("invalid_json", "invalid_field", "not_found", "roster_refused", "no_pii_key")
    route(app, "POST", PREFIX + "/roster/check", post_roster_check,
          Doc("A roster CSV checked by the real import, rolled back: every problem by line and column, or a preview",
              auth="user", errors=files))
    route(app, "POST", PREFIX + "/roster/import", post_roster_import,
          Doc("A roster CSV imported (refused whole with every problem by line and column); audited", auth="user",
              errors=files))
    route(app, "GET", PREFIX + "/shifts", get_shifts,
          Doc("The event's shifts with how many are on each, and the roster's teams", auth="user", errors=("not_found",)))
    route(app, "POST", PREFIX + "/assignments/team", post_assign_team,
          Doc("Every volunteer of a team onto one of the event's shifts; audited", auth="user",
              errors=("invalid_json", "invalid_field", "not_found", "unknown_shift", "unknown_team")))
    route(app, "POST", PREFIX + "/assignments/csv", post_assign_csv,
          Doc("Volunteers onto shifts from a CSV of pairs (dry_run: checked only); audited", auth="user",
              errors=("invalid_json", "invalid_field", "not_found", "assignments_refused")))
