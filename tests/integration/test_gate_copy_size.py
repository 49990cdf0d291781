"""What a gate copy weighs for a 20,000-volunteer event: whole, and the delta a kiosk fetches every 15 s.

The event is written into Redis as load_event would (synthetic Taipei-shaped roster, three shifts each, 50
revoked cards, 40 gates), 12,000 volunteers are checked in through the real scan script, then the copy is read
the way the gateway route reads it. The figures are printed (pytest -s) and held under generous bounds.
"""

from __future__ import annotations

import asyncio
import gzip
import secrets
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import redis.asyncio as aioredis

from checkin.cards.format import new_card_id
from checkin.events.gate_copy import Cursor, note_card_changes, read_gate_copy
from checkin.events.store import rest_meta, roster_record
from checkin.gateway.redis.batcher import ScriptBatcher
from checkin.keys import EventKeys, Keys
from checkin.roster.synth import generate_roster
from checkin.scan.rules import Policy
from checkin.scan.script import SCRIPT, ScanCall
from checkin.tokens import token_hash

VOLUNTEERS = 20_000
ON_SITE = 12_000
DELTA_SCANS = 600  # 15 s at 40 scans a second: a busy shift change at a festival of this size
TZ = ZoneInfo("Asia/Taipei")
DEVICE, TOKEN, GATE = "DSIZE", "size-token", "G00"


async def write_event(redis: aioredis.Redis, ev: EventKeys) -> list[str]:
    """The event as load_event leaves it in Redis; returns the card ids, in roster order."""
    now = datetime.now(UTC)
    roster = generate_roster(VOLUNTEERS, seed=16)
    teams = {t.team_id: t.name for t in roster.teams}
    shifts = [(f"S{i:03d}", now - timedelta(hours=2) + timedelta(hours=8 * i), f"Z{i % 12:02d}") for i in range(45)]
    records: dict[str, bytes] = {}
    for i, v in enumerate(roster.volunteers):
        mine = [shifts[(i + k * 7) % len(shifts)] for k in range(3)]
        row = {"volunteer_id": v.volunteer_id, "name": v.name, "team": teams[v.team_id], "birth_year": v.birth_year,
               "insured_from": date(2000, 1, 1), "insured_to": date(2100, 1, 1),
               "training_basic": v.training_basic, "training_special": v.training_special,
               "shift_ids": [s for s, _, _ in mine], "zones": [z for _, _, z in mine],
               "starts": [a for _, a, _ in mine], "ends": [a + timedelta(hours=6) for _, a, _ in mine]}
        records[new_card_id()] = orjson.dumps(roster_record(row, TZ, 1958))
    cards = list(records)
    policy = Policy()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(ev.roster, mapping=records)  # type: ignore[arg-type]
        pipe.sadd(ev.revoked, *[new_card_id() for _ in range(50)])
        pipe.hset(ev.gates, mapping={f"G{i:02d}": orjson.dumps({"z": f"Z{i % 12:02d}", "m": "auto"}) for i in range(40)})
        pipe.hset(ev.devices, DEVICE, orjson.dumps({"h": token_hash(TOKEN), "s": "active", "g": GATE}))
        pipe.hset(ev.meta, mapping={"status": "open", "name": "燈會", "tz": "Asia/Taipei", "debounce_s": 60,
                                    "insurance": "block", "shift_early_min": 60, "shift_late_min": 60,
                                    "clock_skew_s": 120, **rest_meta(policy, int(now.timestamp() * 1000))})
        await pipe.execute()
    return cards


async def scan_all(batcher: ScriptBatcher, ev: EventKeys, cards: list[str], from_ms: int, span_ms: int) -> None:
    """Scans of these cards spread evenly over span_ms from from_ms (so timestamps differ as at a real gate)."""
    step = span_ms // len(cards)
    calls = [ScanCall(event_id=ev.event_id, scan_id=str(uuid.uuid4()), device_id=DEVICE, token_hash=token_hash(TOKEN),
                      gate_id=GATE, seq=i + 1, card_id=card, card_reason="", online=False,
                      device_at_ms=from_ms + i * step, received_ms=from_ms + i * step) for i, card in enumerate(cards)]
    for start in range(0, len(calls), 2000):
        await asyncio.gather(*(batcher.call(c.keys(ev), c.args(10**9)) for c in calls[start:start + 2000]))


def weigh(copy: dict[str, object]) -> tuple[int, int]:
    body = orjson.dumps({**copy, "server_time": 0})
    return len(body), len(gzip.compress(body, 6))


async def test_gate_copy_size_for_20000_volunteers(redis_client: aioredis.Redis, keys: Keys) -> None:
    ev = keys.event(f"size-{secrets.token_hex(4)}")
    try:
        cards = await write_event(redis_client, ev)
        batcher = ScriptBatcher(redis_client, SCRIPT)
        now_ms = int(time.time() * 1000)
        await scan_all(batcher, ev, cards[:ON_SITE], now_ms - 3_600_000, 3_000_000)

        started = time.perf_counter()
        whole = await read_gate_copy(redis_client, ev, DEVICE, token_hash(TOKEN), None)
        whole_ms = (time.perf_counter() - started) * 1000
        assert len(whole["cards"]) == VOLUNTEERS and len(whole["revoked"]) == 50
        assert len(whole["presence"]) == ON_SITE

        # 15 s later: half the scans check volunteers out, half check others in; two cards revoked
        await scan_all(batcher, ev, cards[:DELTA_SCANS // 2] + cards[-DELTA_SCANS // 2:], now_ms - 15_000, 15_000)
        lost = cards[1000:1002]
        async with redis_client.pipeline(transaction=False) as pipe:
            pipe.sadd(ev.revoked, *lost)
            pipe.hdel(ev.roster, *lost)
            note_card_changes(pipe, ev, lost)
            await pipe.execute()
        started = time.perf_counter()
        delta = await read_gate_copy(redis_client, ev, DEVICE, token_hash(TOKEN), Cursor.parse(whole["cursor"]))
        delta_ms = (time.perf_counter() - started) * 1000
        assert delta["whole"] == {"cards": False, "presence": False}
        assert len(delta["presence"]) == DELTA_SCANS and set(delta["cards"]) == set(delta["revoked"]) == set(lost)

        (whole_raw, whole_gz), (delta_raw, delta_gz) = weigh(whole), weigh(delta)
        print(f"\ngate copy, {VOLUNTEERS} volunteers, {ON_SITE} on site: whole {whole_raw / 1e6:.2f} MB JSON,"
              f" {whole_gz / 1e3:.0f} kB gzip, read in {whole_ms:.0f} ms; delta after {DELTA_SCANS} scans and"
              f" 2 revocations: {delta_raw / 1e3:.1f} kB JSON, {delta_gz / 1e3:.1f} kB gzip, read in {delta_ms:.0f} ms")
        assert whole_gz < 2_000_000 and delta_gz < 100_000
    finally:
        await redis_client.delete(*ev.all_state())
