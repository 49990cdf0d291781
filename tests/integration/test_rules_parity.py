"""The rules table through the Lua script in Redis: the same answers as `checkin.rules.decide`.

Each case gets an event of its own whose keys are written straight from the case (meta, the roster record
as `roster_record` makes it, gates, the device, presence), then one scan goes through the script exactly as
the gateway sends it (ScanCall -> ScriptBatcher -> decode_result).
"""

from __future__ import annotations

import secrets
import uuid
from zoneinfo import ZoneInfo

import orjson
import pytest
import redis.asyncio as aioredis

import checkin.scan.rules as rules
from checkin.events.store import checkout_meta, rest_meta, roster_record, window_meta
from checkin.gateway.redis.batcher import ScriptBatcher
from checkin.keys import EventKeys, Keys
from checkin.scan.script import SCRIPT, ScanAnswer, ScanCall, ScanRefused, decode_result
from checkin.tokens import token_hash
from tests.rules_table import (
    CARD_ID,
    CASES,
    CHECKIN_SCAN,
    NOT_STORED,
    SENIOR_FROM_YEAR,
    VOLUNTEER_ID,
    Case,
    ms,
    presence_record,
    roster_row,
)
from tests.unit.test_rules import refusal, run_case

RUN = secrets.token_hex(3)
DEVICE = "DPARITY"
TOKEN = "parity-token"
GATE = "G-parity"


async def load_case(redis: aioredis.Redis, ev: EventKeys, case: Case) -> None:
    policy = case.policy
    await redis.delete(*ev.all_state())
    await redis.hset(ev.meta, mapping={
        "status": "open" if case.event_open else "closed", "name": case.name, "tz": policy.tz,
        "debounce_s": policy.debounce_s, "insurance": policy.insurance, "shift_early_min": policy.shift_early_min,
        "shift_late_min": policy.shift_late_min, "clock_skew_s": policy.clock_skew_s,
        **rest_meta(policy, ms(case.at)), **checkout_meta(policy), **window_meta(policy, *case.days, policy.tz),
    })
    if case.volunteer is not None:
        record = roster_record(roster_row(case.volunteer), ZoneInfo(policy.tz), SENIOR_FROM_YEAR)
        await redis.hset(ev.roster, CARD_ID, orjson.dumps(record))
    if case.revoked:
        await redis.sadd(ev.revoked, CARD_ID)
    await redis.hset(ev.gates, "G-other-zone", orjson.dumps({"z": "east", "m": "auto"}))
    if case.gate is not None:
        await redis.hset(ev.gates, GATE, orjson.dumps({"z": "main", "m": case.gate}))
    await redis.hset(ev.devices, DEVICE, orjson.dumps({"h": token_hash(TOKEN), "s": "active", "g": GATE}))
    await redis.hset(ev.devices, "DELSEWHERE", orjson.dumps({"h": token_hash(TOKEN), "s": "active", "g": "G-other-zone"}))
    if case.presence.on_site or case.presence.last_ms is not None:
        await redis.hset(ev.presence, VOLUNTEER_ID, orjson.dumps(presence_record(case.presence)))
        if case.presence.on_site:
            await redis.hset(ev.counts, mapping={"on_site": 1, "zone:main": 1, "team:燈會志工隊": 1})


def call_for(case: Case, scan_id: str, event_id: str) -> ScanCall:
    return ScanCall(
        event_id=event_id, scan_id=scan_id, device_id=DEVICE, token_hash=token_hash(TOKEN), gate_id=GATE,
        seq=1, card_id=CARD_ID, card_reason=case.card_reason or "", online=case.online,
        device_at_ms=ms(case.at), received_ms=case.server_ms, mode=case.mode,
    )


async def scan(batcher: ScriptBatcher, ev: EventKeys, call: ScanCall) -> ScanAnswer:
    return decode_result(await batcher.call(call.keys(ev), call.args(1_000_000)))


@pytest.fixture(scope="module")
async def batcher(redis_client: aioredis.Redis) -> ScriptBatcher:
    await redis_client.script_load(SCRIPT)
    return ScriptBatcher(redis_client, SCRIPT)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_lua_matches_rules(case: Case, batcher: ScriptBatcher, redis_client: aioredis.Redis,
                                 keys: Keys) -> None:
    expected, at_ms = run_case(case)
    ev = keys.event(f"parity-{RUN}-{CASES.index(case)}")
    await load_case(redis_client, ev, case)
    presence_before = await redis_client.hget(ev.presence, VOLUNTEER_ID)
    call = call_for(case, str(uuid.uuid4()), ev.event_id)

    if case.verdict == NOT_STORED:
        assert refusal(case) == case.reason
        for _ in range(2):  # nothing stored, so the same scan again is refused again, not replayed
            with pytest.raises(ScanRefused) as refused:
                await scan(batcher, ev, call)
            assert refused.value.code == case.reason
        assert await redis_client.xlen(ev.stream) == 0
        assert await redis_client.hget(ev.presence, VOLUNTEER_ID) == presence_before
        assert not await redis_client.exists(ev.answer(call.scan_id))
        return
    answer = await scan(batcher, ev, call)

    assert (answer.verdict, answer.reason, tuple(answer.warnings), answer.session_minutes) == (
        expected.verdict, expected.reason, expected.warnings, expected.session_minutes)
    assert (answer.verdict, answer.reason, tuple(answer.warnings), answer.session_minutes) == (
        case.verdict, case.reason, case.warnings, case.minutes)
    assert answer.at_ms == at_ms
    entries = await redis_client.xrange(ev.stream)
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"verdict"].decode() == case.verdict
    assert fields[b"at"] == str(at_ms).encode()
    assert fields[b"closes"].decode() == (CHECKIN_SCAN if case.verdict == rules.CHECKED_OUT else "")
    presence_after = await redis_client.hget(ev.presence, VOLUNTEER_ID)
    if case.reason == rules.CONFIRM_CHECKOUT:  # only the time it was asked, so the next scan may check out
        assert presence_before is not None
        assert orjson.loads(presence_after) == {**orjson.loads(presence_before), "cf": at_ms}
    elif case.verdict in (rules.DUPLICATE, rules.REJECTED):
        assert presence_after == presence_before  # a duplicate or a refusal changes nothing
    else:
        state = orjson.loads(presence_after)
        assert state["on"] == (1 if case.verdict == rules.CHECKED_IN else 0)
        assert state["last"] == at_ms
    expected_on_site = {rules.CHECKED_IN: 1, rules.CHECKED_OUT: 0}.get(
        case.verdict, 1 if case.presence.on_site else 0)
    assert answer.on_site == expected_on_site

    again = await scan(batcher, ev, call)  # the same scan_id again: the stored answer, nothing new
    assert again.replay
    assert (again.verdict, again.reason, again.warnings, again.at_ms) == (
        answer.verdict, answer.reason, answer.warnings, answer.at_ms)
    assert await redis_client.xlen(ev.stream) == 1
    assert await redis_client.hget(ev.presence, VOLUNTEER_ID) == presence_after


async def test_a_device_scans_only_at_its_own_gate(batcher: ScriptBatcher, redis_client: aioredis.Redis,
                                                  keys: Keys) -> None:
    """The device check comes before any rule: a device enrolled at another gate gets a refusal, and nothing."""
    case = CASES[0]
    ev = keys.event(f"parity-{RUN}-gate")
    await load_case(redis_client, ev, case)
    elsewhere = ScanCall(**{**call_for(case, str(uuid.uuid4()), ev.event_id).__dict__, "device_id": "DELSEWHERE"})
    with pytest.raises(ScanRefused) as refused:
        await scan(batcher, ev, elsewhere)
    assert (refused.value.code, refused.value.detail) == (rules.GATE_NOT_ENROLLED, "G-other-zone")
    assert await redis_client.xlen(ev.stream) == 0
    assert await redis_client.hgetall(ev.counts) == {}
    answer = await scan(batcher, ev, call_for(case, str(uuid.uuid4()), ev.event_id))  # its own device: decided
    assert answer.verdict == case.verdict
