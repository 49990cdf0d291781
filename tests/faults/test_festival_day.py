"""A festival day's shift change under faults: nothing acknowledged lost, nothing stored twice, nobody let in.

Real processes (a gateway, two recorder consumers) against an embedded PostgreSQL and Valkey of the
suite's own, driven by simulated kiosks (kiosk_sim.py). While a few thousand volunteers change
shifts at six posts: the gateway is SIGKILLed and restarted, Redis restarts with its data, a kiosk
goes offline, Postgres stops for 30 s while each consumer is SIGKILLed once, and Redis loses
everything while the consumers lag. Then Postgres is compared with what the kiosks saw, and the
reconciled hours with the script's own ground truth. The table goes to test-artifacts/faults.txt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from pathlib import Path

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

from checkin.cards.store import revoke_card
from checkin.keys import Keys
from checkin.reconcile.store import reconcile_event
from tests.faults.faults import Fault, FaultPlan, watch
from tests.faults.kiosk_sim import SimKiosk, drive, tick
from tests.faults.script import DAY_START, Plan, build_plan
from tests.faults.system import FaultySystem

DAY_S = 100.0  # real seconds for the simulated 07:30-20:30
SIZES = {"morning": 1000, "afternoon": 1000, "night": 400}
OFFLINE_KIOSK = 3
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults.txt"

pytestmark = pytest.mark.timeout(280)


async def _hostile(kiosk: SimKiosk, plan: Plan, system: FaultySystem, keys: Keys, started: float) -> list[str]:
    """Bad cards at a real gate, before and after the revocation and after Redis lost everything."""
    sent: list[str] = []
    now = plan.at(DAY_START)

    async def at(second: float, *cards: str) -> None:
        await asyncio.sleep(max(0.0, started + second - time.monotonic()))
        for card in cards:
            sent.append((await kiosk.scan(card, now)).scan_id)

    await at(5, plan.tampered_card, plan.stranger_card)
    conn = await asyncpg.connect(system.postgres_url)
    redis = aioredis.Redis.from_url(system.redis_url)
    try:
        await asyncio.sleep(max(0.0, started + 20 - time.monotonic()))
        await revoke_card(conn, redis, keys, plan.revoked_card.split(".")[2], "lost at the gate")
    finally:
        await conn.close()
        await redis.aclose()
    await at(26, plan.revoked_card)
    await at(85, plan.revoked_card, plan.tampered_card, plan.stranger_card)  # after Redis lost its data
    return sent


def _table(faults: list[Fault], plan_: FaultPlan, counts: dict[str, int], extra: list[str]) -> str:
    lines = ["festival day under faults: "
             f"{sum(SIZES.values())} volunteers, 6 posts, simulated 07:30-20:30 in {DAY_S:.0f} s", ""]
    lines.append(f"{'fault':<42} {'failed requests':>15}  evidence")
    for f in faults:
        evidence = ", ".join(f"{k} {v}" for k, v in f.evidence.items())
        lines.append(f"{f.name:<42} {plan_.failures_during(f):>15}  {evidence}")
    lines.append("")
    heads = ["faults injected", "scans sent", "acknowledged", "stored", "lost", "duplicated"]
    lines.append(" | ".join(heads))
    lines.append(" | ".join(f"{counts[h]:>{len(h)}}" for h in heads))
    lines.extend(["", *extra])
    return "\n".join(lines) + "\n"


async def test_festival_day(faulty_system: FaultySystem) -> None:
    system = faulty_system
    keys = Keys(system.prefix)
    conn = await asyncpg.connect(system.postgres_url)
    redis = aioredis.Redis.from_url(system.redis_url)
    plan = await build_plan(conn, redis, keys, sizes=SIZES)
    await redis.aclose()
    await conn.close()
    await asyncio.to_thread(system.start_gateway)
    for name in ("rec-a", "rec-b"):
        system.start_consumer(name)

    kiosks = [SimKiosk(system.base_url, token, plan.gates[i]) for i, token in enumerate(plan.tokens)]
    hostile = SimKiosk(system.base_url, plan.hostile_token, plan.gates[0])
    devices = [*kiosks, hostile]
    faults = FaultPlan(system, devices, plan.event_id, keys)
    scans = plan.kiosk_scans()

    async with contextlib.AsyncExitStack() as stack:
        for device in devices:
            await stack.enter_async_context(device)
        stop = asyncio.Event()
        started = time.monotonic()

        schedule = [
            ("gateway SIGKILL, restarted after 2 s", 8, faults.kill_gateway),
            ("Redis restart, persistence on", 16, faults.restart_redis_persisted),
            (f"kiosk {OFFLINE_KIOSK} offline 30 s (~30% of its day)", 24,
             lambda f: faults.kiosk_offline(f, OFFLINE_KIOSK, 30)),
            ("Postgres stopped for 30 s", 30, faults.stop_postgres),
            ("recorder SIGKILL #1 (Postgres down)", 36, faults.kill_consumer),
            ("recorder SIGKILL #2 (Postgres down)", 46, faults.kill_consumer),
            ("Redis restart, data gone, recorders killed", 72, faults.lose_redis),
        ]
        tickers = [asyncio.create_task(tick(d, stop)) for d in devices]
        tickers.append(asyncio.create_task(watch(system, stop)))
        results = await asyncio.gather(
            *(drive(k, s, started, DAY_S) for k, s in zip(kiosks, scans, strict=True)),
            _hostile(hostile, plan, system, keys, started),
            faults.run(started, schedule),
        )
        hostile_ids: list[str] = results[-2]
        deadline = time.monotonic() + 60
        while any(d.journal for d in devices) and time.monotonic() < deadline:
            await asyncio.gather(*(d.sync() for d in devices))
            await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tickers)
        drained_s = time.monotonic() - started

    conn = await asyncpg.connect(system.postgres_url)
    redis = aioredis.Redis.from_url(system.redis_url)
    try:
        rows = await conn.fetch("SELECT scan_id::text AS scan_id, device_id, seq, verdict, reason, volunteer_id,"
                                " scanned_at, received_at"
                                " FROM scans WHERE event_id = $1", plan.event_id)
        # Derived as the office sees them once the service day has ended (night shifts closed at shift end).
        next_morning = plan.night_end.replace(hour=4) + timedelta(days=1)
        hours = {h.volunteer_id: h for h in await reconcile_event(conn, plan.event_id, progress=False,
                                                                   now=next_morning)}
        ev = keys.event(plan.event_id)
        presence = {k.decode(): orjson.loads(v) for k, v in (await redis.hgetall(ev.presence)).items()}
        counts = {k.decode(): int(v) for k, v in (await redis.hgetall(ev.counts)).items()}
        revoked_in_redis = await redis.sismember(ev.revoked, plan.revoked_card.split(".")[2])
    finally:
        await conn.close()
        await redis.aclose()

    made = {sid: e for d in devices for sid, e in d.log.made.items()}
    acknowledged = {sid for d in devices for sid in d.log.acknowledged}
    stored = {r["scan_id"]: r for r in rows}
    by_device_seq = {(r["device_id"], r["seq"]) for r in rows}
    lost = set(made) - set(stored)
    table = {
        "faults injected": len(faults.faults), "scans sent": len(made), "acknowledged": len(acknowledged),
        "stored": len(set(made) & set(stored)), "lost": len(lost),
        "duplicated": len(rows) - len(by_device_seq) + len(set(stored) - set(made)),
    }

    # Hours: every volunteer's reconciled total against the script's own arithmetic.
    wrong_hours = []
    for v in plan.visits:
        got = hours[v.volunteer_id].total_minutes if v.volunteer_id in hours else 0
        want = v.expected_minutes(plan.night_end)
        if got != want:
            wrong_hours.append((v.volunteer_id, v.shift, want, got))
    night = {v.volunteer_id for v in plan.visits if v.leave is None}
    on_site = {vid for vid, p in presence.items() if p.get("on") == 1}
    checked_in_rows = sum(1 for r in rows if r["verdict"] == "checked_in")
    extra = [
        f"hours: {len(plan.visits) - len(wrong_hours)} of {len(plan.visits)} volunteers as expected",
        f"live state after the rebuild: on site {counts.get('on_site')} (expected {len(night)}), "
        f"in_total {counts.get('in_total')} (Postgres check-ins {checked_in_rows})",
        f"processes that exited on their own: {sum(len(p.crashes) for p in system.processes.values())}",
        f"journal re-sends {sum(d.log.resends for d in devices)}, peak journal "
        f"{max(d.log.peak_journal for d in devices)}, day and drain took {drained_s:.0f} s",
    ]
    report = _table(faults.faults, faults, table, extra)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(report, encoding="utf-8")
    print("\n" + report)

    crashes = [c for p in system.processes.values() for c in p.crashes]
    assert not crashes, "processes exited on their own (restarted, as `checkin up` would):\n" + "\n".join(crashes)
    waiting = {d.device_id: len(d.journal) for d in devices if d.journal}
    assert not waiting, f"journals never emptied (durable_seq stuck): {waiting}"
    assert table["lost"] == 0, f"lost scans: {sorted(lost)[:10]}"
    assert acknowledged <= set(stored)
    assert table["duplicated"] == 0
    assert not wrong_hours, f"{len(wrong_hours)} volunteers' hours differ, e.g. {wrong_hours[:5]}"

    # Nobody let in: every hostile scan was refused, for the right reason, also after Redis lost everything.
    hostile_reasons = [(stored[sid]["verdict"], stored[sid]["reason"]) for sid in hostile_ids]
    assert hostile_reasons == [
        ("rejected", "invalid_card"), ("rejected", "not_on_roster"), ("rejected", "revoked"),
        ("rejected", "revoked"), ("rejected", "invalid_card"), ("rejected", "not_on_roster"),
    ], hostile_reasons
    assert revoked_in_redis

    # The live state rebuilt from Postgres without anyone asking: exactly the night crew on site.
    if on_site != night:
        differ = sorted(on_site ^ night)[:5]
        rows_of = {vid: [dict(r) for r in rows if r.get("volunteer_id") == vid] for vid in differ}
        raise AssertionError(f"presence differs for {len(on_site ^ night)} volunteers, e.g. "
                             f"{[(vid, presence.get(vid), rows_of[vid]) for vid in differ]}")
    assert counts.get("on_site") == len(night)

    # Each fault bit: the protection it tests was needed.
    def fault(prefix: str) -> Fault:
        return next(f for f in faults.faults if f.name.startswith(prefix))

    assert faults.failures_during(fault("gateway SIGKILL")) > 0
    persisted = fault("Redis restart, persistence on")
    assert faults.failures_during(persisted) > 0
    assert persisted.evidence["event kept (no rebuild needed)"] == 1
    assert fault(f"kiosk {OFFLINE_KIOSK} offline").evidence["scans made offline"] > 0
    assert fault("Postgres stopped").evidence["scans acknowledged while Postgres was down"] > 0
    for name in ("recorder SIGKILL #1", "recorder SIGKILL #2"):
        assert fault(name).evidence["entries orphaned by the kill"] > 0, name
    assert faults.restored_only_by_journals, "Redis lost nothing that was not already in Postgres"
    assert faults.restored_only_by_journals <= set(stored)
