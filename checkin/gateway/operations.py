"""Gate operations beyond the card scan: roster search and manual scans (coordinators), group check-in
(team leads), annulling a mistaken scan (the device that made it, or a coordinator), team reports, and
the kiosk PIN check. Manual and group scans go through the same scan script as a card at a gate."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from checkin import operations as ops
from checkin.enrollment import device_for_token
from checkin.gateway.enroll import _postgres
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.gate_directory import unavailable
from checkin.gateway.state import GatewayState, state_key
from checkin.keys import EVENT_ID_RE
from checkin.scan_script import AuthRefused, Backlogged, EventUnloaded, ScanCall, decode_result
from checkin.tokens import DeviceToken, bearer, parse_device_token

MODES = {"in": "entry", "out": "exit", "auto": "auto"}
MAX_GROUP = 200
OPERATOR_ROLES = ("admin", "coordinator")


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = True, limit: int = 100) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ApiError(400, "invalid_field", f"{name} must be a non-empty string of at most {limit} characters", name)
    return value


def _scan_id(value: object, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ApiError(400, "invalid_field", f"{field} must be a UUID", field) from None


async def _operator(request: web.Request, event_id: str | None, roles: tuple[str, ...]) -> ops.Operator:
    """The person behind a user token; a kiosk's device token is never one (it may not browse the roster)."""
    state = request.app[state_key]
    raw = bearer(request.headers.get("Authorization"))
    async with _postgres():
        who = await ops.operator_for_token(state.pool, raw)
    if who is None:
        raise ApiError(401, "unauthorized", "send a coordinator, team lead or admin token as 'Authorization: Bearer <token>'")
    if who.role not in roles:
        raise ApiError(403, "forbidden", f"this needs one of the roles: {', '.join(roles)}")
    if event_id is not None and (not EVENT_ID_RE.match(event_id) or not who.may_operate(event_id)):
        raise ApiError(403, "forbidden", "this account may not operate that event")
    return who


# --- roster search ----------------------------------------------------------------------------

async def get_search(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    who = await _operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    q = request.query.get("q", "").strip()
    if not q or len(q) > 64:
        raise ApiError(400, "invalid_field", "q: a name, the last digits of a phone number or a record book number", "q")
    state = request.app[state_key]
    async with _postgres():
        found = await ops.search_roster(state.pool, event_id, q, who.team_id if who.role == "team_lead" else None)
    on_site = await _on_site(state, event_id, [r["volunteer_id"] for r in found])
    return json_response({"results": [
        {"volunteer_id": r["volunteer_id"], "name": r["name"], "team": r["team"], "team_id": r["team_id"],
         "record_book_no": r["record_book_no"], "phone_tail": r["phone_tail"] or None,
         "national_id": r["national_id_mask"],
         "has_card": r["card_id"] is not None, "on_site": on_site.get(r["volunteer_id"], False)}
        for r in found]})


async def _on_site(state: GatewayState, event_id: str, ids: list[str]) -> dict[str, bool]:
    if not ids:
        return {}
    try:
        raw = await state.redis.hmget(state.keys.event(event_id).presence, ids)
    except RedisError:
        return {}
    return {vid: r is not None and orjson.loads(r).get("on") == 1 for vid, r in zip(ids, raw, strict=True)}


async def get_gates(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    await _operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    state = request.app[state_key]
    async with _postgres():
        rows = await state.pool.fetch(
            "SELECT gate_id, name, zone_id, mode FROM gates WHERE event_id = $1 ORDER BY gate_id", event_id)
    return json_response({"gates": [dict(r) for r in rows]})


# --- manual and group scans ---------------------------------------------------------------------

async def _operator_scan(state: GatewayState, who: ops.Operator, event_id: str, card_id: str, gate_id: str,
                         mode: str, source: str, scan_id: str) -> dict[str, Any]:
    """One scan made by a person for a volunteer, through the same script as a card at a gate."""
    ev = state.keys.event(event_id)
    now = _now_ms()
    try:
        # The person's synthetic device: trusted because the person is authenticated; re-registered each
        # time since reloading the event rewrites the devices hash from the devices table.
        await state.redis.hset(ev.devices, who.device_id,
                               orjson.dumps({"h": who.token_hash, "s": "active", "g": gate_id}))
        seq = await state.redis.hincrby(ev.meta, "opseq:" + who.device_id, 1)
        call = ScanCall(event_id=event_id, scan_id=scan_id, device_id=who.device_id, token_hash=who.token_hash,
                        gate_id=gate_id, seq=seq, card_id=card_id, card_reason="", online=True, device_at_ms=now,
                        received_ms=now, mode=mode, source=source, operator=who.user_id)
        raw = await state.batcher.call(call.keys(ev), call.args(state.config.stream_max_backlog))
    except RedisError:
        raise unavailable() from None
    try:
        answer = decode_result(raw)
    except AuthRefused as refused:  # only if the event was reloaded between the two calls: retry
        raise ApiError(503, "retry", f"the event was reloaded ({refused.code}); retry",
                       headers={"Retry-After": "1"}) from None
    except EventUnloaded:
        state.rebuild_soon(event_id)
        raise ApiError(503, "rebuilding", "the event's live state is being rebuilt; retry",
                       headers={"Retry-After": "2"}) from None
    except Backlogged:
        raise ApiError(503, "backlogged", "the event's scan stream is full; retry",
                       headers={"Retry-After": "5"}) from None
    return {"scan_id": scan_id, "verdict": answer.verdict, "reason": answer.reason, "warnings": answer.warnings,
            "volunteer": {"display_name": answer.display_name, "team": answer.team} if answer.volunteer_id else None,
            "session_minutes": answer.session_minutes, "on_site": answer.on_site, "replay": answer.replay,
            "scanned_at": datetime.fromtimestamp(answer.at_ms / 1000, UTC).isoformat(), "source": source,
            "operator": who.user_id}


async def _gate_of(state: GatewayState, event_id: str, gate_id: str) -> None:
    async with _postgres():
        found = await state.pool.fetchval("SELECT 1 FROM gates WHERE gate_id = $1 AND event_id = $2",
                                          gate_id, event_id)
    if not found:
        raise ApiError(400, "unknown_gate", "the event has no such gate", "gate_id")


async def post_manual_scan(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    who = await _operator(request, event_id, OPERATOR_ROLES)
    body = await _body(request)
    volunteer_id = _text(body, "volunteer_id")
    gate_id = _text(body, "gate_id")
    action = body.get("action", "auto")
    if action not in MODES:
        raise ApiError(400, "invalid_field", "action is in, out or auto", "action")
    scan_id = _scan_id(body["scan_id"], "scan_id") if body.get("scan_id") is not None else str(uuid.uuid4())
    state = request.app[state_key]
    await _gate_of(state, event_id, gate_id)
    async with _postgres():
        cards = await ops.member_cards(state.pool, event_id, [volunteer_id])
    if volunteer_id not in cards:
        raise ApiError(404, "not_on_roster", "no such volunteer on this event's roster", "volunteer_id")
    card_id = cards[volunteer_id][0]
    if card_id is None:
        raise ApiError(409, "no_active_card", "the volunteer has no active card; issue one first", "volunteer_id")
    return json_response(await _operator_scan(state, who, event_id, card_id, gate_id, MODES[action], "manual",
                                              scan_id))


async def post_group_checkin(request: web.Request) -> web.Response:
    """A team lead checks in the members present, in one action; each member gets a scan of their own."""
    event_id = request.match_info["event_id"]
    who = await _operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    body = await _body(request)
    gate_id = _text(body, "gate_id")
    members = body.get("volunteer_ids")
    if (not isinstance(members, list) or not members or len(members) > MAX_GROUP
            or not all(isinstance(m, str) and 0 < len(m) <= 100 for m in members)):
        raise ApiError(400, "invalid_field", f"volunteer_ids: 1 to {MAX_GROUP} volunteer ids", "volunteer_ids")
    members = list(dict.fromkeys(members))
    state = request.app[state_key]
    await _gate_of(state, event_id, gate_id)
    async with _postgres():
        cards = await ops.member_cards(state.pool, event_id, members)
    results: list[dict[str, Any]] = []
    for vid in members:
        card_id, team_id = cards.get(vid, (None, None))
        if vid not in cards:
            results.append({"volunteer_id": vid, "error": "not_on_roster"})
        elif who.role == "team_lead" and team_id != who.team_id:
            results.append({"volunteer_id": vid, "error": "not_your_team"})
        elif card_id is None:
            results.append({"volunteer_id": vid, "error": "no_active_card"})
        else:  # entry mode: a member already on site stays on site (a duplicate), never checked out
            answer = await _operator_scan(state, who, event_id, card_id, gate_id, "entry", "group", str(uuid.uuid4()))
            results.append({"volunteer_id": vid, **answer})
    return json_response({"results": results})


async def get_team_report(request: web.Request) -> web.Response:
    event_id, team_id = request.match_info["event_id"], request.match_info["team_id"]
    who = await _operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    if who.role == "team_lead" and who.team_id != team_id:
        raise ApiError(403, "forbidden", "a team lead sees their own team only")
    state = request.app[state_key]
    async with _postgres():
        try:
            report = await ops.team_report(state.pool, event_id, team_id)
        except LookupError:
            raise ApiError(404, "not_found", f"no team {team_id!r}") from None
    return json_response(report)


async def get_rest_limits(request: web.Request) -> web.Response:
    """Who is on site past the event's rest limits right now (the dashboard's warning list)."""
    event_id = request.match_info["event_id"]
    await _operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    state = request.app[state_key]
    ev = state.keys.event(event_id)
    names = ("max_continuous_min", "max_daily_min", "senior_max_continuous_min", "senior_max_daily_min",
             "day_offset_min")
    try:
        raw_limits = await state.redis.hmget(ev.meta, list(names))
        presence = await state.redis.hgetall(ev.presence)
    except RedisError:
        raise unavailable() from None
    limits = {n: int(v) for n, v in zip(names, raw_limits, strict=True) if v is not None}
    now = _now_ms()
    async with _postgres():
        people = {r["volunteer_id"]: r for r in await state.pool.fetch(
            "SELECT v.volunteer_id, v.name, coalesce(t.name, '') AS team,"
            " coalesce(v.birth_year <= extract(year FROM e.starts_on)::int - 65, false) AS senior"
            " FROM assignments a JOIN events e USING (event_id) JOIN volunteers v USING (volunteer_id)"
            " LEFT JOIN teams t ON t.team_id = v.team_id WHERE a.event_id = $1", event_id)}
    over = []
    for vid_raw, record in presence.items():
        vid = vid_raw.decode() if isinstance(vid_raw, bytes) else str(vid_raw)
        person = people.get(vid)
        found = ops.over_rest_limit(orjson.loads(record), bool(person and person["senior"]), limits, now)
        if found is not None:
            over.append({"volunteer_id": vid, "name": person["name"] if person else "",
                         "team": person["team"] if person else "", **found})
    over.sort(key=lambda o: -int(o["session_minutes"]))
    return json_response({"limits": limits, "over": over})


# --- annulment ----------------------------------------------------------------------------------

def _device_token(raw: str | None) -> DeviceToken | None:
    return parse_device_token(raw) if raw and raw.isascii() else None


async def _facts(state: GatewayState, scan_id: str, event_id: str | None) -> ops.ScanFacts | None:
    """The scan from the answer the script stored (fresh scans, maybe not in Postgres yet), else the log."""
    if event_id is not None:
        try:
            raw = await state.redis.get(state.keys.event(event_id).answer(scan_id))
        except RedisError:
            raw = None
        facts = ops.facts_from_answer(scan_id, event_id, orjson.loads(raw)) if raw else None
        if facts is not None:
            gate = await ops.scan_gate(state.pool, scan_id)
            return ops.ScanFacts(**{**facts.__dict__, "gate_id": gate or ""})
    found = await ops.facts_from_log(state.pool, scan_id)
    return found if found is not None and (event_id is None or found.event_id == event_id) else None


async def post_annul(request: web.Request) -> web.Response:
    scan_id = _scan_id(request.match_info["scan_id"], "scan_id")
    body = await _body(request) if request.can_read_body else {}
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 500:
        raise ApiError(400, "invalid_field", "reason: at most 500 characters", "reason")
    state = request.app[state_key]
    raw = bearer(request.headers.get("Authorization"))
    device = _device_token(raw)
    async with _postgres():
        if device is not None:
            info = await device_for_token(state.pool, device.event_id, device.device_id, device.text)
            if info is None:
                raise ApiError(401, "bad_token", "this device token was not issued here")
            if info.status != "active":
                raise ApiError(403, "device_revoked", "this device's token was revoked")
            facts = await _facts(state, scan_id, device.event_id)
            actor, kind = device.device_id, "device"
        else:
            who = await _operator(request, None, OPERATOR_ROLES)
            facts = await _facts(state, scan_id, who.event_id)
            if facts is not None and not who.may_operate(facts.event_id):
                raise ApiError(403, "forbidden", "this account may not operate that event")
            actor, kind = who.user_id, "user"
        if facts is None:
            raise ApiError(404, "not_found", "no such scan (a device's scan is annulled by its own event's token)")
        if facts.verdict not in ("checked_in", "checked_out"):
            raise ApiError(409, "not_annullable", "only a check-in or a check-out can be annulled")
        if kind == "device":
            window = await ops.undo_window_min(state.pool, facts.event_id)
            if facts.device_id != actor:
                raise ApiError(403, "not_your_scan", "a kiosk may annul only its own scans; ask a coordinator")
            if _now_ms() - facts.at_ms > window * 60_000:
                raise ApiError(403, "undo_window_passed",
                               f"a kiosk may annul its scan within {window} minutes; ask a coordinator")
        else:
            approved = await ops.day_approved(state.pool, facts)
            if approved is not None:
                raise ApiError(409, "day_approved",
                               f"the hours of {approved.isoformat()} are approved; the office corrects them now")
        await ops.record_annulment(state.pool, facts, actor, kind, reason)
    return json_response(await _reverse(state, facts, actor, kind, reason))


async def _reverse(state: GatewayState, facts: ops.ScanFacts, actor: str, kind: str, reason: str) -> dict[str, Any]:
    ev = state.keys.event(facts.event_id)
    entry_device = ("M" if kind == "user" else "A") + actor
    args: list[str | int] = [facts.scan_id, str(uuid.uuid4()), entry_device, _now_ms(), actor, facts.verdict, facts.volunteer_id,
            facts.team, facts.zone, "1" if facts.senior else "0", facts.at_ms, facts.gate_id, reason[:200]]
    keys = [ev.meta, ev.presence, ev.counts, ev.stream, ev.answer("annul:" + facts.scan_id)]
    try:
        raw = await state.redis.eval(ops.ANNUL_SCRIPT, len(keys), *keys, *args)
    except RedisError:
        # The annulment is in Postgres; the live state follows when the call is retried (it is idempotent).
        raise unavailable() from None
    status = raw[0].decode()
    if status == "unloaded":
        state.rebuild_soon(facts.event_id)
        raise ApiError(503, "rebuilding", "the event's live state is being rebuilt; retry", headers={"Retry-After": "2"})
    undo = raw[1].decode() if status == "ok" else None
    return {"scan_id": facts.scan_id, "annulled": True, "again": status == "again", "verdict": facts.verdict,
            "live_reversed": bool(undo), "by": actor, "on_site": int(raw[2]) if status == "ok" else None}


# --- kiosk PIN ----------------------------------------------------------------------------------

async def post_pin_check(request: web.Request) -> web.Response:
    """The kiosk asks before opening its settings (re-enrollment, gate, mode)."""
    device = _device_token(bearer(request.headers.get("Authorization")))
    if device is None:
        raise ApiError(401, "missing_token", "send the device token as 'Authorization: Bearer <token>'")
    pin = (await _body(request)).get("pin")
    state = request.app[state_key]
    async with _postgres():
        info = await device_for_token(state.pool, device.event_id, device.device_id, device.text)
        if info is None:
            raise ApiError(401, "bad_token", "this device token was not issued here")
        stored = await ops.device_pin_hash(state.pool, device.device_id)
    if stored is None:
        return json_response({"ok": True, "pin_set": False})
    if not isinstance(pin, str) or not await asyncio.to_thread(ops.pin_matches, stored, pin):
        raise ApiError(403, "wrong_pin", "wrong PIN", "pin")
    return json_response({"ok": True, "pin_set": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/events/{event_id}/roster/search", get_search)
    app.router.add_get("/api/v1/events/{event_id}/gates", get_gates)
    app.router.add_post("/api/v1/events/{event_id}/manual-scans", post_manual_scan)
    app.router.add_post("/api/v1/events/{event_id}/group-checkin", post_group_checkin)
    app.router.add_get("/api/v1/events/{event_id}/teams/{team_id}/report", get_team_report)
    app.router.add_get("/api/v1/events/{event_id}/rest-limits", get_rest_limits)
    app.router.add_post("/api/v1/scans/{scan_id}/annul", post_annul)
    app.router.add_post("/api/v1/device/pin-check", post_pin_check)
