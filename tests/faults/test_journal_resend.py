"""Redis loses its data under running recorders and kiosks with answered scans in their journals.

Two kiosks scan while the recorders are paused (idle, holding nothing), so their acknowledged scans
exist only in the stream and the journals; then Redis loses everything and the recorders resume. The
kiosk keeping the protocol (re-send what is short of durable_seq) gets every scan stored; the one that
only sends unanswered entries never does, and its journal never empties, because the device's
watermark stops at the gap. The recorders must live through the loss (recreate their group).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import asyncpg
import pytest
import redis.asyncio as aioredis

from checkin.keys import Keys
from tests.faults.faults import watch
from tests.faults.kiosk_sim import SimKiosk
from tests.faults.script import build_plan
from tests.faults.system import FaultySystem

pytestmark = pytest.mark.timeout(120)


async def _drain(kiosks: list[SimKiosk], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(k.journal for k in kiosks) and time.monotonic() < deadline:
        await asyncio.gather(*(k.sync() for k in kiosks))
        await asyncio.sleep(0.3)


async def test_without_resending_a_redis_data_loss_strands_acknowledged_scans(faulty_system: FaultySystem) -> None:
    system = faulty_system
    keys = Keys(system.prefix)
    conn = await asyncpg.connect(system.postgres_url)
    redis = aioredis.Redis.from_url(system.redis_url)
    try:
        plan = await build_plan(conn, redis, keys, sizes={"morning": 60}, seed=11)
    finally:
        await redis.aclose()
    for name in ("rec-a", "rec-b"):
        if name not in system.processes:
            system.start_consumer(name)
    gateway = system.processes.get("gateway")
    if gateway is not None:
        gateway.kill()  # a gateway learns new card keys at start (or within 30 s)
    await asyncio.to_thread(system.start_gateway)

    keeping = SimKiosk(system.base_url, plan.tokens[0], plan.gates[0])
    forgetting = SimKiosk(system.base_url, plan.tokens[1], plan.gates[1], resend=False)
    visits = {post: [v for v in plan.visits if v.post == post] for post in (0, 1)}
    crashes_before = {name: len(p.crashes) for name, p in system.processes.items()}
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(system, stop))
    consumers = [system.processes[n] for n in ("rec-a", "rec-b")]
    try:
        async with keeping, forgetting:
            for kiosk, post in ((keeping, 0), (forgetting, 1)):
                for v in visits[post]:
                    await kiosk.scan(v.card, v.arrive)
            await _drain([keeping, forgetting], 20)
            assert not keeping.journal and not forgetting.journal, "arrivals never became durable"

            for proc in consumers:
                proc.signal(signal.SIGSTOP)  # departures are answered but wait in the stream
            for kiosk, post in ((keeping, 0), (forgetting, 1)):
                for v in visits[post]:
                    assert v.leave is not None
                    await kiosk.scan(v.card, v.leave)
            assert all(e.answered_at for k in (keeping, forgetting) for e in k.journal)
            await asyncio.to_thread(lambda: system.restart_redis(persist=False, wipe=True, down_s=0.5))
            for proc in consumers:
                proc.signal(signal.SIGCONT)
            await _drain([keeping, forgetting], 20)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    stored = {str(r["scan_id"]) for r in await conn.fetch(
        "SELECT scan_id FROM scans WHERE event_id = $1", plan.event_id)}
    await conn.close()
    assert set(keeping.log.acknowledged) <= stored and not keeping.journal
    stranded = set(forgetting.log.acknowledged) - stored
    assert len(stranded) == len(visits[1]), "every departure answered before the loss is missing"
    assert {e.scan_id for e in forgetting.journal} == stranded  # kept, but never sent again
    crashes = [c for name, p in system.processes.items() for c in p.crashes[crashes_before.get(name, 0):]]
    assert not crashes, "a recorder did not live through the Redis data loss:\n" + "\n".join(crashes)
