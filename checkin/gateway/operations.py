"""Gate operations beyond the card scan: roster search and manual scans (coordinators), group check-in
(team leads), annulling a mistaken scan (the device that made it, or a coordinator), team reports, and
the kiosk PIN check. Manual and group scans go through the same scan script as a card at a gate."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

import checkin.access.desk as desk
import checkin.access.operations as ops
from checkin.access.enrollment import device_for_token
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import device_token, device_token_or_none, enrolled_device, operator
from checkin.gateway.errors import ApiError, json_response, postgres_guard, unavailable
from checkin.gateway.models import device as device_models
from checkin.gateway.models import operations as models
from checkin.gateway.requests import read_model
from checkin.gateway.state import GatewayState, state_key
from checkin.scan.script import (
    AuthRefused,
    Backlogged,
    EventUnloaded,
    GarbledReply,
    ScanCall,
    ScanRefused,
    decode_result,
)

MODES = {"in": "entry", "out": "exit", "auto": "auto"}
OPERATOR_ROLES = ("admin", "coordinator")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _scan_id(value: object, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ApiError(400, "invalid_field", f"{field} must be a UUID", field) from None


# --- roster search ----------------------------------------------------------------------------

async def get_search(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    who = await operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    q = request.query.get("q", "").strip()
    if not q or len(q) > 64:
        raise ApiError(400, "invalid_field", "q: a name, the last digits of a phone number or a record book number", "q")
    state = request.app[state_key]
    async with postgres_guard():
        found = await ops.search_roster(state.pool, event_id, q, who.team_id if who.role == "team_lead" else None)
    on_site = await _on_site(state, event_id, [r["volunteer_id"] for r in found])
    async with postgres_guard():  # why a card does not work, so the desk can say so
        cards = await desk.card_states(state.pool, [r["volunteer_id"] for r in found if r["card_id"] is None])
    return json_response({"results": [
        {"volunteer_id": r["volunteer_id"], "name": r["name"], "team": r["team"], "team_id": r["team_id"],
         "record_book_no": r["record_book_no"], "phone_tail": r["phone_tail"] or None,
         "national_id": r["national_id_mask"],
         "has_card": r["card_id"] is not None, "on_site": on_site.get(r["volunteer_id"], False),
         "card": None if r["card_id"] is not None else cards.get(r["volunteer_id"], {"status": "none"})}
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
    await operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    state = request.app[state_key]
    async with postgres_guard():
        rows = await state.pool.fetch(
            "SELECT gate_id, name, zone_id, mode FROM gates WHERE event_id = $1 ORDER BY gate_id", event_id)
    return json_response({"gates": [dict(r) for r in rows]})


# --- manual and group scans ---------------------------------------------------------------------

async def _operator_scan(state: GatewayState, who: ops.Operator, event_id: str, card_id: str, gate_id: str,
                         mode: str, source: str, scan_id: str, record: str = "") -> dict[str, Any]:
    """One scan made by a person for a volunteer, through the same script as a card at a gate."""
    ev = state.keys.event(event_id)
    now = _now_ms()
    try:
        # The person's synthetic device: trusted because the person is authenticated, and at any gate of the
        # event (a desk serves them all); re-registered each time since reloading the event rewrites the
        # devices hash from the devices table.
        await state.redis.hset(ev.devices, who.device_id,
                               orjson.dumps({"h": who.token_hash, "s": "active", "any": 1}))
        seq = await state.redis.hincrby(ev.meta, "opseq:" + who.device_id, 1)
        call = ScanCall(event_id=event_id, scan_id=scan_id, device_id=who.device_id, token_hash=who.token_hash,
                        gate_id=gate_id, seq=seq, card_id=card_id, card_reason="", online=True, device_at_ms=now,
                        received_ms=now, mode=mode, source=source, operator=who.user_id, roster_record=record)
        raw = await state.batcher.call(call.keys(ev), call.args(state.config.stream_max_backlog))
    except (RedisError, GarbledReply):
        raise unavailable() from None
    try:
        answer = decode_result(raw)
    except GarbledReply:
        raise unavailable() from None
    except AuthRefused as refused:  # only if the event was reloaded between the two calls: retry
        raise ApiError(503, "retry", f"the event was reloaded ({refused.code}); retry",
                       headers={"Retry-After": "1"}) from None
    except ScanRefused as refused:
        raise ApiError(422, refused.code, "the event does not run today: no scan can be recorded now") from None
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
            "operator": who.user_id, "note": answer.note}


async def _gate_of(state: GatewayState, event_id: str, gate_id: str) -> None:
    async with postgres_guard():
        found = await state.pool.fetchval("SELECT 1 FROM gates WHERE gate_id = $1 AND event_id = $2",
                                          gate_id, event_id)
    if not found:
        raise ApiError(400, "unknown_gate", "the event has no such gate", "gate_id")


async def post_manual_scan(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    who = await operator(request, event_id, OPERATOR_ROLES)
    body = await read_model(request, models.ManualScanBody)
    volunteer_id, gate_id, action = body.volunteer_id, body.gate_id, body.action
    scan_id = _scan_id(body.scan_id, "scan_id") if body.scan_id is not None else str(uuid.uuid4())
    state = request.app[state_key]
    await _gate_of(state, event_id, gate_id)
    async with postgres_guard():
        cards = await ops.member_cards(state.pool, event_id, [volunteer_id])
    if volunteer_id not in cards:
        raise ApiError(404, "not_on_roster", "no such volunteer on this event's roster", "volunteer_id")
    card_id = cards[volunteer_id][0]
    if card_id is None:  # a lost (revoked) card, or none yet: by hand, with the reason kept in the audit log
        return json_response(await _cardless_scan(state, who, event_id, volunteer_id, gate_id, MODES[action],
                                                  scan_id, body.reason))
    return json_response(await _operator_scan(state, who, event_id, card_id, gate_id, MODES[action], "manual",
                                              scan_id))


async def _cardless_scan(state: GatewayState, who: ops.Operator, event_id: str, volunteer_id: str, gate_id: str,
                         mode: str, scan_id: str, reason: str | None) -> dict[str, Any]:
    async with postgres_guard():
        card = (await desk.card_states(state.pool, [volunteer_id])).get(volunteer_id)
    why = f"the card was revoked ({card['reason'] or 'no reason given'})" if card else "no card was issued"
    if reason is None or not reason.strip() or len(reason) > 200:
        raise ApiError(409, "no_active_card", f"{why}; to check the volunteer in by hand, give a reason"
                       " (at most 200 characters)", "reason")
    async with postgres_guard():
        record = await desk.desk_record(state.pool, event_id, volunteer_id)
    if record is None:
        raise ApiError(404, "not_on_roster", "no such volunteer on this event's roster", "volunteer_id")
    answer = await _operator_scan(state, who, event_id, "", gate_id, mode, "manual", scan_id, record)
    if not answer["replay"]:
        async with postgres_guard():
            await desk.audit_cardless_scan(state.pool, who.user_id, event_id, volunteer_id, {
                "scan_id": scan_id, "reason": reason.strip(), "card": card, "verdict": answer["verdict"],
                "gate_id": gate_id})
    return {**answer, "card": card, "manual_reason": reason.strip()}


async def post_group_checkin(request: web.Request) -> web.Response:
    """A team lead checks in the members present, in one action; each member gets a scan of their own."""
    event_id = request.match_info["event_id"]
    who = await operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    body = await read_model(request, models.GroupBody)
    gate_id = body.gate_id
    members = list(dict.fromkeys(body.volunteer_ids))
    state = request.app[state_key]
    await _gate_of(state, event_id, gate_id)
    async with postgres_guard():
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
    who = await operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
    if who.role == "team_lead" and who.team_id != team_id:
        raise ApiError(403, "forbidden", "a team lead sees their own team only")
    state = request.app[state_key]
    async with postgres_guard():
        try:
            report = await ops.team_report(state.pool, event_id, team_id)
        except LookupError:
            raise ApiError(404, "not_found", f"no team {team_id!r}") from None
    return json_response(report)


async def get_rest_limits(request: web.Request) -> web.Response:
    """Who is on site past the event's rest limits right now (the dashboard's warning list)."""
    event_id = request.match_info["event_id"]
    await operator(request, event_id, (*OPERATOR_ROLES, "team_lead"))
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
    async with postgres_guard():
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
    reason = (await read_model(request, models.AnnulBody)).reason if request.body_exists else ""
    state = request.app[state_key]
    device = device_token_or_none(request)
    async with postgres_guard():
        if device is not None:
            await enrolled_device(request, device)
            facts = await _facts(state, scan_id, device.event_id)
            actor, kind = device.device_id, "device"
        else:
            who = await operator(request, None, OPERATOR_ROLES)
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
    device, _ = device_token(request)
    pin = (await read_model(request, device_models.PinCheckBody)).pin
    state = request.app[state_key]
    async with postgres_guard():
        info = await device_for_token(state.pool, device.event_id, device.device_id, device.text)
        if info is None:
            raise ApiError(401, "bad_token", "this device token was not issued here")
        if info.status != "active":
            raise ApiError(403, "device_revoked", "this device's token was revoked; enroll it again")
        stored = await ops.device_pin_hash(state.pool, device.device_id)
    if stored is None:
        return json_response({"ok": True, "pin_set": False})
    if wait := state.pin_tries.wait_s(device.device_id):
        raise ApiError(429, "too_many_pin_tries", "too many wrong PINs; wait before trying again", "pin",
                       headers={"Retry-After": str(math.ceil(wait))})
    if pin is None or not await asyncio.to_thread(ops.pin_matches, stored, pin):
        state.pin_tries.wrong(device.device_id)
        raise ApiError(403, "wrong_pin", "wrong PIN", "pin")
    state.pin_tries.right(device.device_id)
    return json_response({"ok": True, "pin_set": True})


def setup(app: web.Application) -> None:
    event = "/api/v1/events/{event_id}"
    scanning = ("unknown_gate", "outside_event_dates", "scan_in_future", "backlogged", "unavailable", "rebuilding",
                "retry")
    route(app, "GET", event + "/roster/search", get_search,
          Doc("Find volunteers by name, phone tail or record book number", answer=models.SearchAnswer,
              query=models.SearchQuery, auth="user", errors=("unavailable",)))
    route(app, "GET", event + "/gates", get_gates,
          Doc("The event's gates", answer=models.Gates, auth="user", errors=("unavailable",)))
    route(app, "POST", event + "/manual-scans", post_manual_scan,
          Doc("Check a volunteer in or out by hand (a reason when they have no working card)",
              body=models.ManualScanBody, answer=models.OperatorScan, auth="user",
              errors=("not_on_roster", "no_active_card", *scanning)))
    route(app, "POST", event + "/group-checkin", post_group_checkin,
          Doc("A team lead checks in the members present; each is answered on its own",
              body=models.GroupBody, answer=models.GroupAnswer, auth="user", errors=scanning))
    route(app, "GET", event + "/teams/{team_id}/report", get_team_report,
          Doc("A team's recorded check-ins and check-outs, for its unit", answer=models.TeamReport, auth="user",
              errors=("not_found", "unavailable")))
    route(app, "GET", event + "/rest-limits", get_rest_limits,
          Doc("Who is on site past the event's rest limits now", answer=models.RestLimits, auth="user",
              errors=("unavailable",)))
    route(app, "POST", "/api/v1/scans/{scan_id}/annul", post_annul,
          Doc("Annul a mistaken check-in or check-out: the kiosk that made it (within the undo window) or a "
              "coordinator", body=models.AnnulBody, answer=models.Annulled, auth="device_or_user",
              errors=("not_found", "not_annullable", "not_your_scan", "undo_window_passed", "day_approved",
                      "unavailable", "rebuilding")))
    route(app, "POST", "/api/v1/device/pin-check", post_pin_check,
          Doc("Check the kiosk's PIN before its settings open", body=device_models.PinCheckBody,
              answer=device_models.PinChecked, auth="device",
              errors=("wrong_pin", "too_many_pin_tries", "unavailable")))
