"""A lean HTTP/1.1 load generator: one keep-alive connection per kiosk, requests prebuilt as bytes.

Open loop: requests go out on a fixed schedule whatever the answers do (a busy kiosk connection
pipelines), and latency is counted from the scheduled moment, so queueing anywhere shows up as
latency instead of a lower send rate. Closed loop: each kiosk sends its next scan when the last one
is answered, which finds the most the system can take. Loopback only; bounded by count and time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import orjson


@dataclass
class Request:
    device: int
    data: bytes
    scans: int
    batch: bool


@dataclass
class PhaseStats:
    mode: str
    target_rate: float = 0.0
    sent_requests: int = 0
    sent_scans: int = 0
    answered_requests: int = 0
    answered_scans: int = 0  # answered with 200, each scan counted (a batch counts all its scans)
    failed_scans: int = 0  # refused whole (non-200) or never answered
    latencies_ms: list[float] = field(default_factory=list)  # single scans, from the scheduled moment
    batch_latencies_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)  # how late the generator itself sent
    verdicts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    first_send: float = 0.0
    last_send: float = 0.0
    last_answer: float = 0.0
    generator_cpu_s: float = 0.0  # this process's CPU time over the phase (whatever else it ran meanwhile)
    generator_wall_s: float = 0.0  # ... and the wall time it was measured over

    def on_answer(self, scheduled: float, request: Request, status: int, body: bytes, now: float) -> None:
        self.answered_requests += 1
        self.last_answer = now
        (self.batch_latencies_ms if request.batch else self.latencies_ms).append((now - scheduled) * 1000)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = {}
        if status != 200:
            self.failed_scans += request.scans
            self.errors[f"http {status} {data.get('error', '?') if isinstance(data, dict) else '?'}"] += request.scans
            return
        self.answered_scans += request.scans
        for item in data["results"] if request.batch else [data]:
            if item.get("verdict"):
                self.verdicts[f"{item['verdict']}/{item.get('reason') or '-'}"] += 1
            else:
                self.verdicts[f"refused/{item.get('error')}"] += 1

    def on_lost(self, request: Request, why: str) -> None:
        self.failed_scans += request.scans
        self.errors[why] += request.scans


class KioskConnection(asyncio.Protocol):
    def __init__(self, stats: PhaseStats) -> None:
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: deque[tuple[float, Request, asyncio.Future[None] | None]] = deque()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def send(self, request: Request, scheduled: float, waiter: asyncio.Future[None] | None = None) -> None:
        if self.transport is None or self.transport.is_closing():
            self.stats.on_lost(request, "connection closed")
            if waiter is not None:
                waiter.set_result(None)
            return
        self.pending.append((scheduled, request, waiter))
        self.transport.write(request.data)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        now = time.perf_counter()
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            at = buf.find(b"Content-Length:", 0, end)
            if at < 0:
                at = bytes(buf[:end]).lower().find(b"content-length:")
            length = int(buf[at + 15:buf.find(b"\r\n", at, end + 2)]) if at >= 0 else 0
            total = end + 4 + length
            if len(buf) < total:
                return
            status = int(buf[9:12])
            body = bytes(buf[end + 4:total])
            del buf[:total]
            scheduled, request, waiter = self.pending.popleft()
            self.stats.on_answer(scheduled, request, status, body, now)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        while self.pending:
            _, request, waiter = self.pending.popleft()
            self.stats.on_lost(request, "connection lost")
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(host: str, port: int, devices: set[int], stats: PhaseStats) -> dict[int, KioskConnection]:
    loop = asyncio.get_running_loop()
    conns: dict[int, KioskConnection] = {}
    for device in sorted(devices):
        _, proto = await loop.create_connection(lambda: KioskConnection(stats), host, port)
        conns[device] = proto
    return conns


async def _finish(conns: dict[int, KioskConnection], stats: PhaseStats, answer_timeout_s: float) -> None:
    for _ in range(int(answer_timeout_s / 0.02)):  # bounded wait for the last answers
        if not any(c.pending for c in conns.values()):
            break
        await asyncio.sleep(0.02)
    for conn in conns.values():
        if conn.pending:
            conn.close()  # connection_lost counts what is still unanswered
    for conn in conns.values():
        conn.close()
    await asyncio.gather(*(c.closed for c in conns.values()))
    for conn in conns.values():
        conn.pending.clear()


async def open_loop(host: str, port: int, requests: list[Request], rate: float, duration_s: float,
                    answer_timeout_s: float = 30.0) -> tuple[PhaseStats, int]:
    """Send at `rate` scans a second for at most duration_s; return the stats and how many requests were sent."""
    stats = PhaseStats("open", target_rate=rate)
    conns = await _connect(host, port, {r.device for r in requests}, stats)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    start = time.perf_counter() + 0.02
    stats.first_send = start
    slot, i = 0.0, 0
    while i < len(requests) and time.perf_counter() - start < duration_s:
        now = time.perf_counter()
        while i < len(requests):
            due = start + slot / rate
            if due > now:
                break
            request = requests[i]
            stats.send_lag_ms.append((now - due) * 1000)
            conns[request.device].send(request, due)
            stats.sent_requests += 1
            stats.sent_scans += request.scans
            slot += request.scans
            i += 1
        stats.last_send = now
        await asyncio.sleep(max(0.0, start + slot / rate - time.perf_counter()))
    await _finish(conns, stats, answer_timeout_s)
    stats.generator_cpu_s = time.process_time() - cpu0
    stats.generator_wall_s = time.perf_counter() - wall0
    return stats, i


async def closed_loop(host: str, port: int, requests: list[Request], duration_s: float,
                      answer_timeout_s: float = 30.0) -> tuple[PhaseStats, int]:
    """Each kiosk sends its next request as soon as the last is answered, for duration_s."""
    stats = PhaseStats("closed")
    conns = await _connect(host, port, {r.device for r in requests}, stats)
    queues: dict[int, deque[Request]] = {d: deque() for d in conns}
    for request in requests:
        queues[request.device].append(request)
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    start = stats.first_send = time.perf_counter()

    async def kiosk(device: int) -> int:
        sent = 0
        while queues[device] and time.perf_counter() - start < duration_s:
            request = queues[device].popleft()
            waiter: asyncio.Future[None] = loop.create_future()
            now = time.perf_counter()
            conns[device].send(request, now, waiter)
            stats.sent_requests += 1
            stats.sent_scans += request.scans
            sent += 1
            await waiter
        return sent

    sent = sum(await asyncio.gather(*(kiosk(d) for d in conns)))
    stats.last_send = time.perf_counter()
    await _finish(conns, stats, answer_timeout_s)
    stats.generator_cpu_s = time.process_time() - cpu0
    stats.generator_wall_s = time.perf_counter() - wall0
    return stats, sent
