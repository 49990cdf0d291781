"""POST /api/v1/scans and /api/v1/scans/batch: check the card, one Redis call, answer."""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from checkin.gateway.batcher import ScriptBatcher
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.scan_request import ScanRequest, parse_batch, parse_scan
from checkin.gateway.state import GatewayState, state_key
from checkin.scan_script import AuthRefused, Backlogged, ScanAnswer, ScanCall, decode_result
from checkin.tokens import DeviceToken, bearer, parse_device_token

_AUTH_STATUS = {"unknown_device": 401, "bad_token": 401, "device_revoked": 403}


def _unavailable() -> ApiError:
    return ApiError(503, "unavailable", "the scan store is unreachable; keep the scan and retry",
                    headers={"Retry-After": "2"})


class GateDirectory:
    """Which gates exist at all, remembered per gateway process.

    A gate seen before costs nothing; a gate not yet seen costs one HGET of the global gates hash that
    load_event writes (with the device check in the same pipeline, so a bad token is still a 401 first).
    Only known gates are remembered, so a gate added later is found on its first scan. The scan itself
    stays one EVALSHA: the Lua script touches only the event's own hash-tagged keys, and a gate of
    another event is its verdict rejected/wrong_gate.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._known: set[str] = set()

    async def unknown(self, state: GatewayState, token: DeviceToken, gate_ids: set[str]) -> set[str]:
        """The gates among gate_ids that no loaded event has; raise ApiError for a refused device."""
        missing = sorted(gate_ids - self._known)
        if not missing:
            return set()
        ev = state.keys.event(token.event_id)
        try:
            async with state.redis.pipeline(transaction=False) as pipe:
                pipe.hget(ev.devices, token.device_id)
                pipe.hmget(state.keys.gates, missing)
                device, events = await pipe.execute()
        except RedisError:
            raise _unavailable() from None
        record = orjson.loads(device) if device else None
        if record is None or record.get("h") != token.hash:
            code = "unknown_device" if record is None else "bad_token"
            raise ApiError(401, code, "this device is not enrolled for this event, or its token was revoked")
        if record.get("s") != "active":
            raise ApiError(403, "device_revoked", "this device's token was revoked")
        if len(self._known) >= self.capacity:
            self._known.clear()
        found = {gate for gate, event in zip(missing, events, strict=True) if event is not None}
        self._known |= found
        return set(missing) - found


# One directory per running app, found through its batcher (GatewayState is a plain, unhashable dataclass).
_directories: weakref.WeakKeyDictionary[ScriptBatcher, GateDirectory] = weakref.WeakKeyDictionary()


def _directory(state: GatewayState) -> GateDirectory:
    found = _directories.get(state.batcher)
    if found is None:
        found = _directories[state.batcher] = GateDirectory()
    return found


def _unknown_gate(field: str) -> ApiError:
    return ApiError(400, "unknown_gate", "no event has this gate; check the kiosk's gate setting", field)


def _device(request: web.Request) -> DeviceToken:
    raw = bearer(request.headers.get("Authorization"))
    if raw is None:
        raise ApiError(401, "missing_token", "send the device token as 'Authorization: Bearer <token>'")
    token = parse_device_token(raw) if raw.isascii() else None
    if token is None:
        raise ApiError(401, "bad_token", "the device token is malformed")
    return token


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
        "scanned_at": datetime.fromtimestamp(answer.at_ms / 1000, UTC).isoformat(),
    }


async def _scan(state: GatewayState, token: DeviceToken, req: ScanRequest, online: bool) -> dict[str, Any]:
    check = state.cards.check(req.card)
    call = ScanCall(
        event_id=token.event_id, scan_id=req.scan_id, device_id=token.device_id, token_hash=token.hash,
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
    except Backlogged:
        raise ApiError(503, "backlogged", "the event's scan stream is full; keep the scan and retry",
                       headers={"Retry-After": "5"}) from None
    return _answer_json(req.scan_id, answer)


async def post_scan(request: web.Request) -> web.Response:
    token = _device(request)
    req = parse_scan(await _json(request))
    state = request.app[state_key]
    if await _directory(state).unknown(state, token, {req.gate_id}):
        raise _unknown_gate("gate_id")
    return json_response(await _scan(state, token, req, online=True))


async def post_batch(request: web.Request) -> web.Response:
    """An offline journal, replayed in order; each item answers for itself."""
    token = _device(request)
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
    unknown = await _directory(state).unknown(state, token, {req.gate_id for _, req in parsed})
    calls = []
    for i, req in parsed:
        if req.gate_id in unknown:
            results[i] = {"scan_id": req.scan_id, **_unknown_gate(f"scans[{i}].gate_id").body()}
        else:
            calls.append((i, _scan(state, token, req, online=False)))
    # Queued in journal order into the same pipeline, so Redis decides them in that order.
    answers = await asyncio.gather(*(c for _, c in calls), return_exceptions=True)
    for (i, _), answer in zip(calls, answers, strict=True):
        if isinstance(answer, BaseException):
            raise answer  # 401/503: the kiosk keeps the whole journal and retries; replays are idempotent
        results[i] = answer
    return json_response({"results": results})
