"""POST /api/v1/scans and /api/v1/scans/batch: check the card, one Redis call, answer."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.gate_directory import unavailable as _unavailable
from checkin.gateway.rate_limit import RateLimiter
from checkin.gateway.scan_request import ScanRequest, parse_batch, parse_scan
from checkin.gateway.state import GatewayState, state_key
from checkin.scan_script import AuthRefused, Backlogged, EventUnloaded, ScanAnswer, ScanCall, decode_result
from checkin.tokens import DeviceToken, bearer, parse_device_token

_AUTH_STATUS = {"unknown_device": 401, "bad_token": 401, "device_revoked": 403}


def _unknown_gate(field: str) -> ApiError:
    return ApiError(400, "unknown_gate", "no event has this gate; check the kiosk's gate setting", field)


_TOKENS: dict[str, tuple[DeviceToken, str]] = {}  # Authorization header -> parsed token and its sha256
_TOKENS_MAX = 20_000


def _device(request: web.Request) -> tuple[DeviceToken, str]:
    """The device token and its hash; a kiosk sends the same header on every scan, so both are kept."""
    header = request.headers.get("Authorization")
    known = _TOKENS.get(header) if header else None
    if known is not None:
        return known
    raw = bearer(header)
    if raw is None:
        raise ApiError(401, "missing_token", "send the device token as 'Authorization: Bearer <token>'")
    token = parse_device_token(raw) if raw.isascii() else None
    if token is None:
        raise ApiError(401, "bad_token", "the device token is malformed")
    if len(_TOKENS) >= _TOKENS_MAX:
        _TOKENS.clear()  # bounded; a cleared entry costs one parse and one hash
    _TOKENS[header] = known = (token, token.hash)  # type: ignore[index]  # header is not None here
    return known


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


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
    }


_second_iso: tuple[int, str] = (0, datetime.fromtimestamp(0, UTC).isoformat()[:-6])


def _iso(at_ms: int) -> str:
    """datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(), with the second's text reused: answers
    in the same second share it."""
    global _second_iso
    second, ms = divmod(at_ms, 1000)
    if _second_iso[0] != second:
        _second_iso = (second, datetime.fromtimestamp(second, UTC).isoformat()[:-6])
    return f"{_second_iso[1]}.{ms:03d}000+00:00" if ms else f"{_second_iso[1]}+00:00"


async def _scan(state: GatewayState, token: DeviceToken, token_hash: str, req: ScanRequest,
                online: bool) -> dict[str, Any]:
    check = state.cards.check(req.card)
    call = ScanCall(
        event_id=token.event_id, scan_id=req.scan_id, device_id=token.device_id, token_hash=token_hash,
        gate_id=req.gate_id, seq=req.seq, card_id=check.card_id or "", card_reason=check.reason or "",
        online=online, device_at_ms=req.scanned_ms, received_ms=int(time.time() * 1000), mode=req.mode,
    )
    ev = state.keys.event(token.event_id)
    try:
        raw = await state.batcher.call(call.keys(ev), call.args(state.config.stream_max_backlog))
    except RedisError:
        raise _unavailable() from None
    try:
        answer = decode_result(raw)
    except AuthRefused as refused:
        raise ApiError(_AUTH_STATUS.get(refused.code, 401), refused.code,
                       "this device is not enrolled for this event, or its token was revoked") from None
    except EventUnloaded:
        state.rebuild_soon(token.event_id)
        raise ApiError(503, "rebuilding", "the event's live state is being rebuilt; keep the scan and retry",
                       headers={"Retry-After": "2"}) from None
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
    token, token_hash = _device(request)
    _within_budget(request.app[state_key].scan_limit, token_hash)
    req = parse_scan(await _json(request))
    state = request.app[state_key]
    if await state.gates.unknown(state, token, {req.gate_id}):
        raise _unknown_gate("gate_id")
    return json_response(await _scan(state, token, token_hash, req, online=True))


async def post_batch(request: web.Request) -> web.Response:
    """An offline journal, replayed in order; each item answers for itself."""
    token, token_hash = _device(request)
    _within_budget(request.app[state_key].batch_limit, token_hash)
    items = parse_batch(await _json(request))
    state = request.app[state_key]
    results: list[dict[str, Any] | None] = [None] * len(items)
    parsed: list[tuple[int, ScanRequest]] = []
    for i, item in enumerate(items):
        try:
            parsed.append((i, parse_scan(item, where=f"scans[{i}].")))
        except ApiError as err:
            scan_id = item.get("scan_id") if isinstance(item, dict) else None
            results[i] = {"scan_id": scan_id if isinstance(scan_id, str) else None, **err.body()}
    unknown = await state.gates.unknown(state, token, {req.gate_id for _, req in parsed})
    calls = []
    for i, req in parsed:
        if req.gate_id in unknown:
            results[i] = {"scan_id": req.scan_id, **_unknown_gate(f"scans[{i}].gate_id").body()}
        else:
            calls.append((i, _scan(state, token, token_hash, req, online=False)))
    # Queued in journal order into the same pipeline, so Redis decides them in that order.
    answers = await asyncio.gather(*(c for _, c in calls), return_exceptions=True)
    for (i, _), answer in zip(calls, answers, strict=True):
        if isinstance(answer, BaseException):
            raise answer  # 401/503: the kiosk keeps the whole journal and retries; replays are idempotent
        results[i] = answer
    return json_response({"results": results})
