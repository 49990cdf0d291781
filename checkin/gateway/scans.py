"""POST /api/v1/scans and /api/v1/scans/batch: check the card, one Redis call, answer."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import device_token
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.errors import unavailable as _unavailable
from checkin.gateway.models import scans as models
from checkin.gateway.rate_limit import RateLimiter
from checkin.gateway.scan_request import ItemRefused, ScanRequest, parse_batch, parse_scan
from checkin.gateway.state import GatewayState, state_key
from checkin.scan.rules import GATE_NOT_ENROLLED, SCAN_IN_FUTURE
from checkin.scan.script import (
    AuthRefused,
    Backlogged,
    EventUnloaded,
    GarbledReply,
    ScanAnswer,
    ScanCall,
    ScanRefused,
    decode_result,
)
from checkin.tokens import DeviceToken
from checkin.vocabulary import Reason

_AUTH_STATUS = {"unknown_device": 401, "bad_token": 401, "device_revoked": 403}


def _unknown_gate(field: str) -> ApiError:
    return ApiError(400, "unknown_gate", "no event has this gate; check the kiosk's gate setting", field)


def _refused(refused: ScanRefused, where: str) -> ApiError:
    """A scan the script stored nothing for: 403 for a device off its gate, 422 for an impossible time."""
    if refused.code == GATE_NOT_ENROLLED:
        return ApiError(403, refused.code, f"this device is enrolled at gate {refused.detail!r} and scans only"
                        " there; an admin moves it with `checkin device move`", where + "gate_id")
    if refused.code == SCAN_IN_FUTURE:
        return ApiError(422, refused.code, "scanned_at is later than the server clock allows; check the"
                        " device's clock", where + "scanned_at")
    return ApiError(422, refused.code, "scanned_at is outside the event's dates", where + "scanned_at")


def _answer_json(scan_id: str, answer: ScanAnswer) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "verdict": answer.verdict,
        "reason": answer.reason,
        "warnings": answer.warnings,
        "volunteer": {"display_name": answer.display_name, "team": answer.team} if answer.volunteer_id else None,
        "session_minutes": answer.session_minutes,
        "on_site": answer.on_site,
        "durable_seq": answer.durable_seq,
        "scanned_at": _iso(answer.at_ms),
        "note": answer.note,
        "last_scan": None if answer.last_ms is None else {
            "verdict": "checked_in" if answer.last_checked_in else "checked_out", "at": _last_iso(answer.last_ms)},
    }


def _last_iso(at_ms: int) -> str:
    # Not through _iso: its one-second memo serves the answers of the current second.
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()


_second_iso: tuple[int, str] = (0, datetime.fromtimestamp(0, UTC).isoformat()[:-6])


def _iso(at_ms: int) -> str:
    """datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(), with the second's text reused: answers
    in the same second share it."""
    global _second_iso
    second, ms = divmod(at_ms, 1000)
    if _second_iso[0] != second:
        _second_iso = (second, datetime.fromtimestamp(second, UTC).isoformat()[:-6])
    return f"{_second_iso[1]}.{ms:03d}000+00:00" if ms else f"{_second_iso[1]}+00:00"


def _redis_failed(state: GatewayState, exc: Exception) -> ApiError:
    """Redis down, restarting or answering nonsense: the kiosk keeps the scan and retries; logged once per outage."""
    state.redis_outage.failed(f"{type(exc).__name__}: {exc}"[:160])
    return _unavailable()


async def _scan(state: GatewayState, token: DeviceToken, token_hash: str, req: ScanRequest,
                online: bool) -> dict[str, Any]:
    check = state.cards.check(req.card)
    if check.reason == Reason.UNKNOWN_KEY and check.key_id and await state.knows_key_now(check.key_id):
        check = state.cards.check(req.card)
    call = ScanCall(
        event_id=token.event_id, scan_id=req.scan_id, device_id=token.device_id, token_hash=token_hash,
        gate_id=req.gate_id, seq=req.seq, card_id=check.card_id or "", card_reason=check.reason or "",
        online=online, device_at_ms=req.scanned_ms, received_ms=int(time.time() * 1000), mode=req.mode,
    )
    ev = state.keys.event(token.event_id)
    try:
        raw = await state.batcher.call(call.keys(ev), call.args(state.config.stream_max_backlog))
    except (RedisError, GarbledReply) as exc:
        raise _redis_failed(state, exc) from None
    try:
        answer = decode_result(raw)
    except GarbledReply as exc:
        raise _redis_failed(state, exc) from None
    except AuthRefused as refused:
        raise ApiError(_AUTH_STATUS.get(refused.code, 401), refused.code,
                       "this device is not enrolled for this event, or its token was revoked") from None
    except EventUnloaded:
        raise await state.refuse_unloaded(token) from None
    except Backlogged:
        raise ApiError(503, "backlogged", "the event's scan stream is full; keep the scan and retry",
                       headers={"Retry-After": "5"}) from None
    return _answer_json(req.scan_id, answer)


def _within_budget(limiter: RateLimiter | None, token_hash: str) -> None:
    # Keyed by the whole token's hash: a forged token with a real device id has a budget of its own.
    wait = limiter.retry_after(token_hash) if limiter else 0.0
    if wait:
        raise ApiError(429, "rate_limited", "this device is sending faster than a gate can scan; slow down",
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})


async def post_scan(request: web.Request) -> web.Response:
    token, token_hash = device_token(request)
    _within_budget(request.app[state_key].scan_limit, token_hash)
    req = parse_scan(await request.read())
    state = request.app[state_key]
    if await state.gates.unknown(state.redis, state.keys, token, {req.gate_id}, state.refuse_unloaded):
        raise _unknown_gate("gate_id")
    try:
        return json_response(await _scan(state, token, token_hash, req, online=True))
    except ScanRefused as refused:
        raise _refused(refused, "") from None


async def post_batch(request: web.Request) -> web.Response:
    """An offline journal, replayed in order; each item answers for itself."""
    token, token_hash = device_token(request)
    _within_budget(request.app[state_key].batch_limit, token_hash)
    items = parse_batch(await request.read())
    state = request.app[state_key]
    results: list[dict[str, Any] | None] = [None] * len(items)
    parsed: list[tuple[int, ScanRequest]] = []
    for i, item in enumerate(items):
        if isinstance(item, ItemRefused):
            results[i] = {"scan_id": item.scan_id, **item.error.body()}
        else:
            parsed.append((i, item))
    unknown = await state.gates.unknown(state.redis, state.keys, token, {req.gate_id for _, req in parsed},
                                       state.refuse_unloaded)
    calls = []
    parsed_ids = {i: req.scan_id for i, req in parsed}
    for i, req in parsed:
        if req.gate_id in unknown:
            results[i] = {"scan_id": req.scan_id, **_unknown_gate(f"scans[{i}].gate_id").body()}
        else:
            calls.append((i, _scan(state, token, token_hash, req, online=False)))
    # Queued in journal order into the same pipeline, so Redis decides them in that order.
    answers = await asyncio.gather(*(c for _, c in calls), return_exceptions=True)
    for (i, _), answer in zip(calls, answers, strict=True):
        if isinstance(answer, ScanRefused):  # this scan alone: the rest of the journal is unaffected
            results[i] = {"scan_id": parsed_ids[i], **_refused(answer, f"scans[{i}].").body()}
            continue
        if isinstance(answer, BaseException):
            raise answer  # 401/503: the kiosk keeps the whole journal and retries; replays are idempotent
        results[i] = answer
    return json_response({"results": results})


_REFUSALS = ("invalid_body", "unknown_gate", "gate_not_enrolled", "scan_in_future", "outside_event_dates",
             "rate_limited", "backlogged", "unavailable", "rebuilding")


def setup(app: web.Application) -> None:
    route(app, "POST", "/api/v1/scans", post_scan,
          Doc("Decide one live scan (a replayed scan_id gets its stored answer)", body=models.ScanBody, answer=models.ScanAnswer,
              auth="device", errors=_REFUSALS))
    route(app, "POST", "/api/v1/scans/batch", post_batch,
          Doc("Replay an offline journal in order; each item is answered (or refused) on its own",
              body=models.BatchSchema, answer=models.BatchAnswer, refs=(models.ScanAnswer, models.ItemError),
              auth="device", errors=_REFUSALS))
