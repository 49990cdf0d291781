"""Office endpoints after the event: hours, anomalies, a volunteer's timeline, corrections, approvals, exports.

Allowed to an admin, or a coordinator of the event (Bearer user token); everyone else gets 401/403.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import orjson
from aiohttp import web

import checkin.hours.exports as exports
import checkin.reconcile.store as reconcile
import checkin.reconcile.timeline as timeline
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import require_user
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.models import office as models
from checkin.gateway.requests import clean_text, path_id, read_model, read_query
from checkin.gateway.state import state_key
from checkin.hours.export_table import EXPORT_KINDS, ExportOptions, export_table
from checkin.hours.model import Anomaly, Session, VolunteerHours

# Reconciling a whole event re-reads its whole scan log (about 25 s for a million scans), while the
# office pages through lists a few rows at a time. One reconciliation serves every page for a short
# while; it is short so late scans show up soon, and the event's own corrections and approvals drop it
# at once so the office always sees its own change. A single lock per event keeps two requests from
# reconciling the same event twice at the same time.
CACHE_TTL_S = 30.0
T = TypeVar("T")
PREFIX = "/api/v1/events/{event_id}"


@dataclass
class Reconciled:
    made_at: float
    results: list[VolunteerHours]
    members: dict[str, exports.Member]
    approved: set[tuple[str, date]]
    year: int


@dataclass
class OfficeCache:
    entries: dict[str, Reconciled] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    generation: dict[str, int] = field(default_factory=dict)

    def forget(self, event_id: str) -> None:
        self.entries.pop(event_id, None)
        self.generation[event_id] = self.generation.get(event_id, 0) + 1

    async def get(self, pool: asyncpg.Pool, event_id: str) -> Reconciled:
        now = time.monotonic()
        for key in [k for k, v in self.entries.items() if now - v.made_at > CACHE_TTL_S]:
            del self.entries[key]  # expired results hold a lot of memory; let them go
        async with self.locks.setdefault(event_id, asyncio.Lock()):
            found = self.entries.get(event_id)
            if found is not None:
                return found
            generation = self.generation.get(event_id, 0)
            async with pool.acquire() as conn:
                await reconcile.load_policy(conn, event_id)  # LookupError for an unknown event
                results = await reconcile.reconcile_event(conn, event_id, progress=False)
                made = Reconciled(time.monotonic(), sorted(results, key=lambda r: r.volunteer_id),
                                  await reconcile.load_members(conn, event_id),
                                  await reconcile.load_approvals(conn, event_id),
                                  await reconcile.event_year(conn, event_id))
            if self.generation.get(event_id, 0) == generation:  # not already outdated by a correction
                self.entries[event_id] = made
            return made


office_key = web.AppKey("office", OfficeCache)


def _page(query: models.PageQuery, matches: list[T], shape: Callable[[T], dict[str, Any]]) -> web.Response:
    """One page of the matches; only the page is turned into JSON (a big event has 100,000 volunteers)."""
    offset, limit = query.offset, query.limit
    return json_response({"total": len(matches), "offset": offset, "limit": limit,
                          "items": [shape(m) for m in matches[offset:offset + limit]]})


async def _event(request: web.Request) -> tuple[str, Reconciled]:
    event_id = request.match_info["event_id"]
    await require_user(request, event_id)
    try:
        return event_id, await request.app[office_key].get(request.app[state_key].pool, event_id)
    except LookupError:
        raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id") from None


def _member_json(m: exports.Member | None) -> dict[str, Any]:
    if m is None:
        return {"name": None, "team_id": None, "team": None, "record_book_no": None}
    return {"name": m.name, "team_id": m.team_id, "team": m.team, "record_book_no": m.record_book_no}


def _session_json(s: Session) -> dict[str, Any]:
    return {"key": s.key, "start": s.start.isoformat(), "end": s.end.isoformat() if s.end else None,
            "day": s.day.isoformat(), "raw_minutes": s.raw_minutes, "credited_minutes": s.credited_minutes,
            "in_scan_id": s.in_scan_id, "out_scan_id": s.out_scan_id, "flags": list(s.flags)}


def _anomalies_json(r: VolunteerHours) -> list[dict[str, Any]]:
    days = {s.key: s.day.isoformat() for s in r.sessions}
    return [{"kind": a.kind, "session_key": a.session_key, "day": days.get(a.session_key or ""),
             "scan_ids": list(a.scan_ids), "detail": a.detail, "resolved": a.resolved} for a in r.anomalies]


async def get_hours(request: web.Request) -> web.Response:
    _, rec = await _event(request)
    query = read_query(request, models.HoursQuery)
    team = query.team_id
    matches = rec.results
    if team is not msgspec.UNSET:
        matches = [r for r in matches if (m := rec.members.get(r.volunteer_id)) is not None and m.team_id == team]

    def shape(r: VolunteerHours) -> dict[str, Any]:
        return {"volunteer_id": r.volunteer_id, **_member_json(rec.members.get(r.volunteer_id)),
                "hours": r.total_minutes / 60,
                "days": [{"day": d.day.isoformat(), "hours": d.minutes / 60, "capped": d.capped} for d in r.days],
                "open_anomalies": sum(1 for a in r.anomalies if not a.resolved)}

    return _page(query, matches, shape)


async def get_anomalies(request: web.Request) -> web.Response:
    _, rec = await _event(request)
    query = read_query(request, models.AnomaliesQuery)
    kind, resolved = query.kind, query.resolved
    matches = [(r, a) for r in rec.results for a in r.anomalies
               if (kind is msgspec.UNSET or a.kind == kind) and (resolved == "all" or a.resolved == (resolved == "true"))]

    def shape(match: tuple[VolunteerHours, Anomaly]) -> dict[str, Any]:
        r, a = match
        day = next((s.day.isoformat() for s in r.sessions if s.key == a.session_key), None)
        return {"volunteer_id": r.volunteer_id, **_member_json(rec.members.get(r.volunteer_id)), "kind": a.kind,
                "session_key": a.session_key, "day": day, "scan_ids": list(a.scan_ids), "detail": a.detail,
                "resolved": a.resolved}

    return _page(query, matches, shape)


async def get_teams(request: web.Request) -> web.Response:
    _, rec = await _event(request)
    days = exports.team_days(rec.results, rec.members, rec.approved)
    return json_response({"items": [{"team_id": t.team_id, "team": t.team, "unit": t.unit, "day": t.day.isoformat(),
                                     "volunteers": t.volunteers, "hours": t.minutes / 60,
                                     "open_anomalies": t.open_anomalies, "approved": t.approved} for t in days]})


async def get_summary(request: web.Request) -> web.Response:
    event_id, rec = await _event(request)
    summary = exports.event_summary(rec.results, rec.members, rec.year)
    return json_response({"event_id": event_id, **exports.summary_json(summary)})


def _query_day(request: web.Request, name: str) -> date | None:
    text = request.query.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_field", f"{name} must be a date, YYYY-MM-DD", name) from None


async def get_export(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    event_id = request.match_info["event_id"]
    user = await require_user(request, event_id)  # before telling anything about what exists
    if kind not in EXPORT_KINDS:
        raise ApiError(404, "not_found", f"export must be one of {', '.join(EXPORT_KINDS)}", "kind")
    event_id, rec = await _event(request)
    async with request.app[state_key].pool.acquire() as conn:
        zone = ZoneInfo((await reconcile.load_policy(conn, event_id)).timezone)
    options = ExportOptions(request.query.get("layout", "plain"), request.query.get("registrar", user.name),
                            _query_day(request, "from"), _query_day(request, "to"), zone)
    try:
        header, rows = export_table(kind, rec.results, rec.members, rec.approved, rec.year, options)
    except ValueError as exc:
        raise ApiError(400, "invalid_field", str(exc)) from None
    return web.Response(body=exports.csv_bytes(header, rows), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{event_id}-{kind}.csv"'})


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def _person_json(p: timeline.Person | None) -> dict[str, Any] | None:
    return None if p is None else {"id": p.id, "kind": p.kind, "name": p.name}


def _timeline_scan_json(s: timeline.TimelineScan) -> dict[str, Any]:
    annulled = s.annulled
    return {"scan_id": s.scan_id, "at": _iso(s.at), "verdict": s.verdict, "reason": s.reason, "gate_id": s.gate_id,
            "gate_name": s.gate_name, "zone_id": s.zone_id, "device_id": s.device_id, "warnings": list(s.warnings),
            "source": s.source, "device_time": _iso(s.device_time), "received_at": _iso(s.received_at),
            "operator": _person_json(s.operator),
            "annulled": None if annulled is None else {"by": _person_json(annulled.by), "at": _iso(annulled.at),
                                                       "reason": annulled.reason}}


async def get_timeline(request: web.Request) -> web.Response:
    """One volunteer, derived on demand (a few rows), so it is always current, cache or not."""
    event_id = request.match_info["event_id"]
    volunteer_id = path_id(request, "volunteer_id")
    await require_user(request, event_id)
    async with request.app[state_key].pool.acquire() as conn:
        scans = await timeline.scans(conn, event_id, volunteer_id)
        corrections = await timeline.corrections(conn, event_id, volunteer_id)
        assigned = await conn.fetchval("SELECT 1 FROM assignments WHERE event_id = $1 AND volunteer_id = $2 LIMIT 1",
                                       event_id, volunteer_id)
        if not scans and not corrections and not assigned:
            raise ApiError(404, "not_found", f"volunteer {volunteer_id!r} has nothing in this event", "volunteer_id")
        try:
            policy = await reconcile.load_policy(conn, event_id)
            derived = await reconcile.derive_volunteer(conn, event_id, volunteer_id)
        except LookupError:
            raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id") from None
        member = (await reconcile.load_members(conn, event_id, [volunteer_id])).get(volunteer_id)
        approved = await reconcile.load_approvals(conn, event_id)
    team = member.team_id if member else None
    return json_response({
        "event_id": event_id, "volunteer_id": volunteer_id, **_member_json(member),
        "timezone": policy.timezone, "hours": derived.total_minutes / 60,
        "scans": [_timeline_scan_json(s) for s in scans],
        "sessions": [_session_json(s) for s in derived.sessions],
        "days": [{"day": d.day.isoformat(), "hours": d.minutes / 60, "raw_minutes": d.raw_minutes,
                  "capped": d.capped, "approved": (team, d.day) in approved} for d in derived.days],
        "anomalies": _anomalies_json(derived),
        "corrections": [{"correction_id": c.correction_id, "action": c.action, "session_key": c.session_key,
                         "start": _iso(c.start), "end": _iso(c.end), "day": _iso(c.day), "reason": c.reason,
                         "actor": c.actor.id, "actor_name": c.actor.name, "at": _iso(c.at),
                         "before": orjson.loads(c.before) if c.before else None,
                         "after": orjson.loads(c.after) if c.after else None} for c in corrections],
    })


async def post_correction(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    user = await require_user(request, event_id)
    body = await read_model(request, models.CorrectionBody)
    action = body.action
    volunteer_id = clean_text(body.volunteer_id, "volunteer_id", required=True)
    reason = clean_text(body.reason, "reason", required=True, most=1000)
    session_key = clean_text(body.session_key, "session_key", required=action != "add")
    pool = request.app[state_key].pool
    async with pool.acquire() as conn:
        try:
            policy = await reconcile.load_policy(conn, event_id)
            days_allowed = await reconcile.office_days(conn, event_id)
        except LookupError:
            raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id") from None
        moments: dict[str, datetime | None] = {}
        for name in ("start", "end"):
            given = clean_text(getattr(body, name), name, required=action == "add", most=64)
            try:
                moments[name] = at = reconcile.parse_moment(given, policy) if given else None
                if at is not None:  # before any time zone arithmetic: year 1 or 9999 would overflow it
                    reconcile.check_office_day(name, at.date(), days_allowed)
            except ValueError as exc:
                raise ApiError(400, "invalid_field", str(exc), name) from None
        if action == "change" and moments["start"] is None and moments["end"] is None:
            raise ApiError(400, "invalid_field", "a change needs a new start, a new end, or both", "start")
        if moments["start"] and moments["end"] and moments["end"] <= moments["start"]:
            raise ApiError(400, "invalid_field", "end must be after start", "end")
        assert volunteer_id is not None and reason is not None
        try:
            c = await reconcile.add_correction(conn, event_id, volunteer_id, action=action, reason=reason,
                                               actor=user.user_id, session_key=session_key,
                                               start=moments["start"], end=moments["end"])
        except reconcile.DayApproved as exc:
            raise ApiError(409, "day_approved", str(exc), "session_key") from None
        except reconcile.NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc), "volunteer_id") from None
        except reconcile.OutsideEvent as exc:
            raise ApiError(400, "invalid_field", str(exc), exc.field) from None
        except ValueError as exc:  # e.g. the session it names does not exist
            raise ApiError(400, "invalid_field", str(exc), "session_key") from None
        finally:
            request.app[office_key].forget(event_id)  # a refused one is audited too; drop the cache anyway
        after = await reconcile.derive_volunteer(conn, event_id, volunteer_id)
    return json_response({"correction_id": c.correction_id, "action": c.action, "session_key": c.key,
                          "volunteer_id": volunteer_id, "actor": c.actor, "reason": c.reason,
                          "hours": after.total_minutes / 60}, status=201)


async def post_approval(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    user = await require_user(request, event_id, team_lead=True)  # reconcile.approve holds a lead to their team
    body = await read_model(request, models.ApprovalBody)
    team_id = clean_text(body.team_id, "team_id", required=True)
    day_text = clean_text(body.day, "day", required=True, most=10)
    assert team_id is not None and day_text is not None
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ApiError(400, "invalid_field", "day must be a date, YYYY-MM-DD", "day") from None
    async with request.app[state_key].pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM events WHERE event_id = $1", event_id) is None:
            raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id")
        try:
            new = await reconcile.approve(conn, event_id, team_id, day, user.user_id)
        except reconcile.OutsideEvent as exc:
            raise ApiError(400, "invalid_field", str(exc), exc.field) from None
        except reconcile.NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc), "team_id") from None
    request.app[office_key].forget(event_id)
    return json_response({"team_id": team_id, "day": day.isoformat(), "approved": True, "new": new,
                          "approved_by": user.user_id}, status=201 if new else 200)


async def post_acceptance(request: web.Request) -> web.Response:
    """Let an untrained or uninsured volunteer's day into the record book (admin only; audited, refusals too)."""
    event_id = request.match_info["event_id"]
    user = await require_user(request, event_id)
    body = await read_model(request, models.AcceptanceBody)
    volunteer_id = clean_text(body.volunteer_id, "volunteer_id", required=True)
    reason = clean_text(body.reason, "reason", required=True, most=1000)
    day_text = clean_text(body.day, "day", required=True, most=10)
    assert volunteer_id is not None and reason is not None and day_text is not None
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ApiError(400, "invalid_field", "day must be a date, YYYY-MM-DD", "day") from None
    async with request.app[state_key].pool.acquire() as conn:
        try:
            await reconcile.accept_record(conn, event_id, volunteer_id, day, user.user_id, reason)
        except reconcile.OutsideEvent as exc:
            raise ApiError(400, "invalid_field", str(exc), exc.field) from None
        except reconcile.NotAllowed as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc), "volunteer_id" if "volunteer" in str(exc) else "event_id") \
                from None
    request.app[office_key].forget(event_id)  # the exports show the accepted day at once
    return json_response({"volunteer_id": volunteer_id, "day": day.isoformat(), "accepted": True,
                          "accepted_by": user.user_id, "reason": reason}, status=201)


def setup(app: web.Application) -> None:
    app[office_key] = OfficeCache()
    found = ("not_found",)
    route(app, "GET", PREFIX + "/hours", get_hours,
          Doc("Each volunteer's reconciled hours, a page at a time", answer=models.HoursPage,
              query=models.HoursQuery, auth="user", errors=found))
    route(app, "GET", PREFIX + "/anomalies", get_anomalies,
          Doc("The anomaly queue, a page at a time", answer=models.AnomaliesPage, query=models.AnomaliesQuery,
              auth="user", errors=found))
    route(app, "GET", PREFIX + "/teams", get_teams,
          Doc("Each team's service days and whether they are approved", answer=models.TeamDays, auth="user",
              errors=found))
    route(app, "GET", PREFIX + "/summary", get_summary,
          Doc("The city plan's figures for the event", answer=models.Summary, auth="user", errors=found))
    route(app, "GET", PREFIX + "/volunteers/{volunteer_id}/timeline", get_timeline,
          Doc("One volunteer's scans, sessions, days, anomalies and corrections", answer=models.Timeline,
              auth="user", errors=found))
    route(app, "POST", PREFIX + "/corrections", post_correction,
          Doc("Add, change or void a session, with a reason (audited)", body=models.CorrectionBody,
              answer=models.Corrected, status=201, auth="user", errors=("not_found", "day_approved")))
    route(app, "POST", PREFIX + "/approvals", post_approval,
          Doc("Approve a team's service day (201 new, 200 already approved)", body=models.ApprovalBody,
              answer=models.Approved, status=201, also=(200,), auth="user", errors=found))
    route(app, "POST", PREFIX + "/acceptances", post_acceptance,
          Doc("Let an untrained or uninsured volunteer's day into the record book (admin; audited)",
              body=models.AcceptanceBody, answer=models.Accepted, status=201, auth="user", errors=found))
    route(app, "GET", PREFIX + "/exports/{kind}.csv", get_export,
          Doc("An export as CSV (UTF-8 with BOM): records, teams, companies, summary, excluded, attendance",
              query=models.ExportQuery, media="text/csv", auth="user", errors=found))
