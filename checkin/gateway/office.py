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

import asyncpg
import orjson
from aiohttp import web

from checkin import exports, reconcile
from checkin.gateway.coordinator import require_user
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.state import state_key
from checkin.hours import Anomaly, Session, VolunteerHours

# Reconciling a whole event re-reads its whole scan log (about 25 s for a million scans), while the
# office pages through lists a few rows at a time. One reconciliation serves every page for a short
# while; it is short so late scans show up soon, and the event's own corrections and approvals drop it
# at once so the office always sees its own change. A single lock per event keeps two requests from
# reconciling the same event twice at the same time.
CACHE_TTL_S = 30.0
MAX_LIMIT = 500
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


def _int_param(request: web.Request, name: str, default: int, least: int, most: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, "bad_parameter", f"{name} must be a whole number", name) from None
    if not least <= value <= most:
        raise ApiError(400, "bad_parameter", f"{name} must be between {least} and {most}", name)
    return value


def _page(request: web.Request, matches: list[T], shape: Callable[[T], dict[str, Any]]) -> web.Response:
    """One page of the matches; only the page is turned into JSON (a big event has 100,000 volunteers)."""
    offset = _int_param(request, "offset", 0, 0, 10**9)
    limit = _int_param(request, "limit", 100, 1, MAX_LIMIT)
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
    team = request.query.get("team_id")
    matches = rec.results
    if team is not None:
        matches = [r for r in matches if (m := rec.members.get(r.volunteer_id)) is not None and m.team_id == team]

    def shape(r: VolunteerHours) -> dict[str, Any]:
        return {"volunteer_id": r.volunteer_id, **_member_json(rec.members.get(r.volunteer_id)),
                "hours": r.total_minutes / 60,
                "days": [{"day": d.day.isoformat(), "hours": d.minutes / 60, "capped": d.capped} for d in r.days],
                "open_anomalies": sum(1 for a in r.anomalies if not a.resolved)}

    return _page(request, matches, shape)


async def get_anomalies(request: web.Request) -> web.Response:
    _, rec = await _event(request)
    kind = request.query.get("kind")
    resolved = request.query.get("resolved", "false")
    if resolved not in ("true", "false", "all"):
        raise ApiError(400, "bad_parameter", "resolved must be true, false or all", "resolved")
    matches = [(r, a) for r in rec.results for a in r.anomalies
               if (kind is None or a.kind == kind) and (resolved == "all" or a.resolved == (resolved == "true"))]

    def shape(match: tuple[VolunteerHours, Anomaly]) -> dict[str, Any]:
        r, a = match
        day = next((s.day.isoformat() for s in r.sessions if s.key == a.session_key), None)
        return {"volunteer_id": r.volunteer_id, **_member_json(rec.members.get(r.volunteer_id)), "kind": a.kind,
                "session_key": a.session_key, "day": day, "scan_ids": list(a.scan_ids), "detail": a.detail,
                "resolved": a.resolved}

    return _page(request, matches, shape)


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


async def get_export(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    event_id = request.match_info["event_id"]
    await require_user(request, event_id)  # before telling anything about what exists
    if kind not in exports.ALL_KINDS:
        raise ApiError(404, "not_found", f"export must be one of {', '.join(exports.ALL_KINDS)}", "kind")
    event_id, rec = await _event(request)
    header, rows = exports.table(kind, rec.results, rec.members, rec.approved, rec.year)
    return web.Response(body=exports.csv_bytes(header, rows), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{event_id}-{kind}.csv"'})


_TIMELINE_SCANS = """
SELECT s.scan_id::text, s.scanned_at, s.verdict, s.reason, s.gate_id, g.zone_id, s.device_id, s.warnings, s.source,
       s.device_time, s.received_at
FROM scans s LEFT JOIN gates g ON g.gate_id = s.gate_id
WHERE s.event_id = $1 AND s.volunteer_id = $2 ORDER BY s.scanned_at, s.scan_id
"""
_TIMELINE_CORRECTIONS = """
SELECT correction_id, action, session_key, start_at, end_at, service_day, reason, actor, at, before::text, after::text
FROM corrections WHERE event_id = $1 AND volunteer_id = $2 ORDER BY at, correction_id
"""


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


async def get_timeline(request: web.Request) -> web.Response:
    """One volunteer, derived on demand (a few rows), so it is always current, cache or not."""
    event_id = request.match_info["event_id"]
    volunteer_id = path_id(request, "volunteer_id")
    await require_user(request, event_id)
    async with request.app[state_key].pool.acquire() as conn:
        scans = await conn.fetch(_TIMELINE_SCANS, event_id, volunteer_id)
        corrections = await conn.fetch(_TIMELINE_CORRECTIONS, event_id, volunteer_id)
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
        "scans": [{"scan_id": r[0], "at": _iso(r[1]), "verdict": r[2], "reason": r[3], "gate_id": r[4],
                   "zone_id": r[5], "device_id": r[6], "warnings": list(r[7] or ()), "source": r[8],
                   "device_time": _iso(r[9]), "received_at": _iso(r[10])} for r in scans],
        "sessions": [_session_json(s) for s in derived.sessions],
        "days": [{"day": d.day.isoformat(), "hours": d.minutes / 60, "raw_minutes": d.raw_minutes,
                  "capped": d.capped, "approved": (team, d.day) in approved} for d in derived.days],
        "anomalies": _anomalies_json(derived),
        "corrections": [{"correction_id": r[0], "action": r[1], "session_key": r[2], "start": _iso(r[3]),
                         "end": _iso(r[4]), "day": _iso(r[5]), "reason": r[6], "actor": r[7], "at": _iso(r[8]),
                         "before": orjson.loads(r[9]) if r[9] else None,
                         "after": orjson.loads(r[10]) if r[10] else None} for r in corrections],
    })


async def read_body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return body


def read_text(body: dict[str, Any], name: str, *, required: bool, most: int = 200) -> str | None:
    """A text field of a JSON body, stripped; 400 naming the field when missing (if required) or malformed."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApiError(400, "missing_field", f"{name} is required", name)
        return None
    if not isinstance(value, str) or len(value) > most:
        raise ApiError(400, "bad_field", f"{name} must be text of at most {most} characters", name)
    if "\x00" in value:  # Postgres takes no NUL in text: refused here rather than failing the insert with a 500
        raise ApiError(400, "bad_field", f"{name} may not contain a NUL character", name)
    return value.strip()


def path_id(request: web.Request, name: str) -> str:
    """An id from the URL (or the query string), checked like a body field."""
    value = request.match_info.get(name) or request.query.get(name) or ""
    if not value or len(value) > 200 or "\x00" in value:
        raise ApiError(400, "bad_field", f"{name} must be an id of 1 to 200 characters without a NUL", name)
    return value


async def post_correction(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    user = await require_user(request, event_id)
    body = await read_body(request)
    volunteer_id = read_text(body, "volunteer_id", required=True)
    action = read_text(body, "action", required=True)
    if action not in ("add", "change", "void"):
        raise ApiError(400, "bad_field", "action must be add, change or void", "action")
    reason = read_text(body, "reason", required=True, most=1000)
    session_key = read_text(body, "session_key", required=action != "add")
    pool = request.app[state_key].pool
    async with pool.acquire() as conn:
        try:
            policy = await reconcile.load_policy(conn, event_id)
        except LookupError:
            raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id") from None
        moments: dict[str, datetime | None] = {}
        for name in ("start", "end"):
            text = read_text(body, name, required=action == "add", most=64)
            try:
                moments[name] = reconcile.parse_moment(text, policy) if text else None
            except ValueError as exc:
                raise ApiError(400, "bad_field", str(exc), name) from None
        if action == "change" and moments["start"] is None and moments["end"] is None:
            raise ApiError(400, "missing_field", "a change needs a new start, a new end, or both", "start")
        if moments["start"] and moments["end"] and moments["end"] <= moments["start"]:
            raise ApiError(400, "bad_field", "end must be after start", "end")
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
        except ValueError as exc:  # e.g. the session it names does not exist
            raise ApiError(400, "bad_correction", str(exc), "session_key") from None
        finally:
            request.app[office_key].forget(event_id)  # a refused one is audited too; drop the cache anyway
        after = await reconcile.derive_volunteer(conn, event_id, volunteer_id)
    return json_response({"correction_id": c.correction_id, "action": c.action, "session_key": c.key,
                          "volunteer_id": volunteer_id, "actor": c.actor, "reason": c.reason,
                          "hours": after.total_minutes / 60}, status=201)


async def post_approval(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    user = await require_user(request, event_id, team_lead=True)  # reconcile.approve holds a lead to their team
    body = await read_body(request)
    team_id = read_text(body, "team_id", required=True)
    day_text = read_text(body, "day", required=True, most=10)
    assert team_id is not None and day_text is not None
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ApiError(400, "bad_field", "day must be a date, YYYY-MM-DD", "day") from None
    async with request.app[state_key].pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM events WHERE event_id = $1", event_id) is None:
            raise ApiError(404, "not_found", f"no event {event_id!r}", "event_id")
        try:
            new = await reconcile.approve(conn, event_id, team_id, day, user.user_id)
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
    body = await read_body(request)
    volunteer_id = read_text(body, "volunteer_id", required=True)
    reason = read_text(body, "reason", required=True, most=1000)
    day_text = read_text(body, "day", required=True, most=10)
    assert volunteer_id is not None and reason is not None and day_text is not None
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ApiError(400, "bad_field", "day must be a date, YYYY-MM-DD", "day") from None
    async with request.app[state_key].pool.acquire() as conn:
        try:
            await reconcile.accept_record(conn, event_id, volunteer_id, day, user.user_id, reason)
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
    app.router.add_get(PREFIX + "/hours", get_hours)
    app.router.add_get(PREFIX + "/anomalies", get_anomalies)
    app.router.add_get(PREFIX + "/teams", get_teams)
    app.router.add_get(PREFIX + "/summary", get_summary)
    app.router.add_get(PREFIX + "/volunteers/{volunteer_id}/timeline", get_timeline)
    app.router.add_post(PREFIX + "/corrections", post_correction)
    app.router.add_post(PREFIX + "/approvals", post_approval)
    app.router.add_post(PREFIX + "/acceptances", post_acceptance)
    app.router.add_get(PREFIX + "/exports/{kind}.csv", get_export)
