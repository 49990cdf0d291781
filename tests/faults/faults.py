"""The faults of the day, on a real-time schedule, each keeping the evidence that it really bit."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from checkin.keys import Keys
from checkin.streams import RECORDER_GROUP
from tests.faults.kiosk_sim import SimKiosk
from tests.faults.system import FaultySystem


async def watch(system: FaultySystem, stop: asyncio.Event) -> None:
    """Restart what exits on its own, as `checkin up` does (each exit is kept for the test to fail on)."""
    while not stop.is_set():
        for proc in system.processes.values():
            if proc.restart_if_crashed() and proc.name == "gateway":
                await asyncio.to_thread(system.wait_gateway)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


@dataclass
class Fault:
    name: str
    at_s: float  # seconds after the day starts
    started: float = 0.0  # monotonic
    ended: float = 0.0
    evidence: dict[str, int] = field(default_factory=dict)


class FaultPlan:
    def __init__(self, system: FaultySystem, kiosks: list[SimKiosk], event_id: str, keys: Keys) -> None:
        self.system, self.kiosks, self.event_id, self.keys = system, kiosks, event_id, keys
        self.faults: list[Fault] = []
        self.restored_only_by_journals: set[str] = set()  # acknowledged scans that only the journals still had

    def _stream(self) -> str:
        return self.keys.event(self.event_id).stream

    async def _blocking(self, fn: Callable[[], object]) -> None:
        await asyncio.to_thread(fn)

    # --- the faults ----------------------------------------------------------------------

    async def kill_gateway(self, fault: Fault, down_s: float = 2.0) -> None:
        self.system.processes["gateway"].kill()
        await asyncio.sleep(down_s)
        await self._blocking(self.system.start_gateway)

    async def kill_consumer(self, fault: Fault) -> None:
        """SIGKILL the recorder holding the most unacknowledged entries (Postgres is down, so one does)."""
        client = self.system.redis()
        held: dict[str, int] = {}
        try:
            for _ in range(50):
                summary = await asyncio.to_thread(client.xpending, self._stream(), RECORDER_GROUP)
                held = {c["name"].decode(): int(c["pending"]) for c in summary.get("consumers") or []}
                held = {n: c for n, c in held.items() if self.system.processes.get(n) and c > 0}
                if held:
                    break
                await asyncio.sleep(0.1)
        finally:
            client.close()
        name = max(held, key=held.__getitem__) if held else "rec-a"
        fault.name += f" {name}"
        fault.evidence["entries orphaned by the kill"] = held.get(name, 0)
        self.system.processes[name].kill()
        await asyncio.sleep(2)
        self.system.start_consumer(name)

    async def restart_redis_persisted(self, fault: Fault) -> None:
        client = self.system.redis()
        before = await asyncio.to_thread(client.dbsize)
        client.close()
        await self._blocking(lambda: self.system.restart_redis(persist=True, wipe=False, down_s=2))
        client = self.system.redis()
        fault.evidence["keys before"] = int(before)
        fault.evidence["keys after"] = int(await asyncio.to_thread(client.dbsize))
        fault.evidence["event kept (no rebuild needed)"] = int(
            await asyncio.to_thread(client.exists, self.keys.event(self.event_id).meta))
        client.close()

    async def stop_postgres(self, fault: Fault, down_s: float = 30.0) -> None:
        await self._blocking(self.system.stop_postgres)
        acked_before = sum(len(k.log.acknowledged) for k in self.kiosks)
        await asyncio.sleep(down_s)
        fault.evidence["scans acknowledged while Postgres was down"] = (
            sum(len(k.log.acknowledged) for k in self.kiosks) - acked_before)
        fault.evidence["journal entries held at the end of the outage"] = sum(len(k.journal) for k in self.kiosks)
        await self._blocking(self.system.start_postgres)

    async def kiosk_offline(self, fault: Fault, index: int, offline_s: float) -> None:
        kiosk = self.kiosks[index]
        made_before = len(kiosk.log.made)
        kiosk.offline = True
        await asyncio.sleep(offline_s)
        fault.evidence["scans made offline"] = len(kiosk.log.made) - made_before
        fault.evidence["journal entries when back online"] = len(kiosk.journal)
        kiosk.offline = False

    async def _stored(self) -> set[str]:
        conn = await asyncpg.connect(self.system.postgres_url)
        try:
            return {str(r["scan_id"]) for r in await conn.fetch(
                "SELECT scan_id FROM scans WHERE event_id = $1", self.event_id)}
        finally:
            await conn.close()

    async def lose_redis(self, fault: Fault, backlog_s: float = 2.0) -> None:
        """Redis loses everything while the recorders lag behind the stream.

        The recorders are paused, so acknowledged scans pile up in the stream; then they are killed,
        so a batch one of them held can never be committed later; Redis is stopped and its files
        deleted; fresh recorders start and Redis comes back empty, without persistence. A recorder
        that commits a held batch after the rebuild has read Postgres would leave those scans out of
        the live state (docs/reliability.md, not guaranteed); killing them keeps this check exact.
        A recorder living through the loss is tests/faults/test_journal_resend.py's case.
        """
        consumers = [p for n, p in self.system.processes.items() if n.startswith("rec")]
        for proc in consumers:
            proc.signal(signal.SIGSTOP)
        await asyncio.sleep(backlog_s)
        acknowledged = {sid for k in self.kiosks for sid in k.log.acknowledged}
        for proc in consumers:
            proc.kill()
        await self._blocking(lambda: self.system.stop_redis(wipe=True))
        stored = await self._stored()  # final for now: nothing can write scans until Redis is back
        for proc in consumers:
            proc.start()  # they wait for Redis
        await self._blocking(lambda: self.system.start_redis(persist=False))
        self.restored_only_by_journals = acknowledged - stored
        fault.evidence["acknowledged scans only in the journals"] = len(self.restored_only_by_journals)

    # --- running -------------------------------------------------------------------------

    async def run(self, day_started: float, schedule: list[tuple[str, float, Callable[[Fault], Awaitable[None]]]]) -> None:
        """Each fault at its time, overlapping where the schedule says so (a consumer dies while Postgres is down)."""
        async def one(name: str, at_s: float, action: Callable[[Fault], Awaitable[None]]) -> None:
            await asyncio.sleep(max(0.0, day_started + at_s - time.monotonic()))
            fault = Fault(name, at_s, started=time.monotonic())
            self.faults.append(fault)
            await action(fault)
            fault.ended = time.monotonic()

        await asyncio.gather(*(one(*s) for s in schedule))
        self.faults.sort(key=lambda f: f.at_s)

    def failures_during(self, fault: Fault, grace_s: float = 1.0) -> int:
        """Requests the kiosks saw fail while the fault lasted."""
        return sum(1 for k in self.kiosks for t, _ in k.log.failures
                   if fault.started <= t <= fault.ended + grace_s)
