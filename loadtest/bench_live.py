"""Live headcounts under load: many dashboards connected while scans arrive at a steady rate.

Starts its own embedded Postgres and Valkey (temporary folder, free ports), one event, the gateway
(`checkin gateway`, its default workers) and one live server (`checkin live`) as child processes;
the dashboards run in a child process of their own so they do not share a core's time with the
sender. Reports, per scan, the time from the gateway's answer reaching the sender to the first
message at a dashboard whose stream id includes that scan (p50/p99 over a sample of dashboards),
and the live server's memory.

    .venv/bin/python -m loadtest.bench_live --clients 1000 --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import psutil
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from checkin.db import migrate
from checkin.keys import Keys
from checkin.scan.rules import Policy
from checkin.servers import EmbeddedPostgres, EmbeddedValkey, free_port
from loadtest.event_factory import make_event  # the same event the tests use, larger

PREFIX = "bench-live"
HEAD_RE = re.compile(r'\{"type":"(\w+)"(?:,"event_id":"[^"]*","event_name":"[^"]*","tz":"[^"]*")?,"stream_id":"([0-9-]+)"')


def sid(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


# ---- the dashboards' process --------------------------------------------------------------------

async def dashboards(url: str, clients: int, sample: int, until: float, out: Path) -> None:
    seen: list[list[tuple[float, str]]] = [[] for _ in range(sample)]
    counts = {"messages": 0, "snapshots": 0, "failures": 0, "closed": 0}
    conns = []

    async def listen(i: int, ws) -> None:  # type: ignore[no-untyped-def]
        try:
            async for raw in ws:
                now = time.time()
                counts["messages"] += 1
                # Only the head is read: parsing every 10 KB body here would time this process, not the server.
                head = HEAD_RE.match(raw)
                kind = head.group(1) if head else ""
                if kind == "snapshot":
                    counts["snapshots"] += 1
                if i < sample and head and kind in ("snapshot", "delta"):
                    seen[i].append((now, head.group(2)))
        except Exception:
            counts["closed"] += 1

    gate = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        async with gate:
            try:
                ws = await connect(url, open_timeout=60, compression=None)
            except Exception:
                counts["failures"] += 1
                return
        conns.append(ws)
        asyncio.create_task(listen(i, ws))

    await asyncio.gather(*(one(i) for i in range(clients)))
    print(f"ready {len(conns)}", flush=True)
    # Until the orchestrator says stop on stdin (or the deadline, whichever is first).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), max(0.0, until - time.time()))
    out.write_bytes(orjson.dumps({"counts": counts, "connected": len(conns), "seen": seen}))
    for ws in conns:
        with contextlib.suppress(Exception):
            await ws.close()


# ---- the orchestrator ---------------------------------------------------------------------------

async def setup_event(pg_url: str, redis_url: str, volunteers: int) -> tuple[str, str, str, list[str]]:
    conn = await asyncpg.connect(pg_url)
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await migrate(conn)
        s = await make_event(conn, redis, Keys(PREFIX), volunteers=volunteers, policy=Policy(debounce_s=0))
    finally:
        await redis.aclose()
        await conn.close()
    return s.event_id, s.device_token, s.coordinator_token, [card for _, card in s.cards]


async def send(base: str, event_id: str, token: str, cards: list[str], rate: int,
               seconds: float) -> list[tuple[str, float, int]]:
    """Open loop at `rate` scans a second; returns (scan_id, answered at, status)."""
    answers: list[tuple[str, float, int]] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    gate = f"{event_id}-desk"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:
        async def one(i: int) -> None:
            scan_id = str(uuid.uuid4())
            body = orjson.dumps({"scan_id": scan_id, "card": cards[i % len(cards)], "gate_id": gate, "seq": i + 1,
                                 "scanned_at": datetime.now(UTC).isoformat()})
            async with http.post(f"{base}/api/v1/scans", data=body, headers=headers) as resp:
                await resp.read()
                answers.append((scan_id, time.time(), resp.status))

        start = time.monotonic()
        tasks = []
        total = int(rate * seconds)
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks, return_exceptions=True)
    return answers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def stream_ids(redis_url: str, event_id: str) -> dict[str, str]:
    redis = aioredis.Redis.from_url(redis_url)
    out: dict[str, str] = {}
    start = "-"
    try:
        while True:
            chunk = await redis.xrange(Keys(PREFIX).event(event_id).stream, min=start, max="+", count=10_000)
            for entry_id, fields in chunk:
                out[fields[b"scan_id"].decode()] = entry_id.decode()
            if len(chunk) < 10_000:
                return out
            start = "(" + chunk[-1][0].decode()
    finally:
        await redis.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500, help="scans per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=100, help="dashboards whose messages are timed")
    parser.add_argument("--dashboards", nargs=4, metavar=("URL", "UNTIL", "OUT", "SAMPLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dashboards:
        url, until, out, sample = args.dashboards
        asyncio.run(dashboards(url, args.clients, int(sample), float(until), Path(out)))
        return 0
    if not (1 <= args.clients <= 5000 and 1 <= args.rate <= 5000 and 1 <= args.seconds <= 300):
        parser.error("bounded: clients 1-5000, rate 1-5000, seconds 1-300")

    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    pg, vk = EmbeddedPostgres(tmp / "pg", database="bench"), EmbeddedValkey(tmp / "vk", free_port())
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pg_url, redis_url = pg.start(), vk.start(persist=False)
        event_id, device_token, coordinator, cards = asyncio.run(setup_event(pg_url, redis_url, args.volunteers))
        gw_port, live_port = free_port(), free_port()
        env = {**os.environ, "CHECKIN_POSTGRES_URL": pg_url, "CHECKIN_REDIS_URL": redis_url,
               "CHECKIN_REDIS_PREFIX": PREFIX, "CHECKIN_GATEWAY_PORT": str(gw_port),
               "CHECKIN_LIVE_PORT": str(live_port), "CHECKIN_DATA_DIR": str(tmp / "data"), "CHECKIN_LOG_LEVEL": "WARNING"}
        procs.append(subprocess.Popen([sys.executable, "-m", "checkin", "gateway"], env=env))
        live = subprocess.Popen([sys.executable, "-m", "checkin", "live"], env=env)
        procs.append(live)
        base = f"http://127.0.0.1:{gw_port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{base}/readyz", timeout=1).status == 200:
                    break
            time.sleep(0.3)
        time.sleep(1)
        live_proc = psutil.Process(live.pid)
        rss_idle = live_proc.memory_info().rss

        url = f"ws://127.0.0.1:{live_port}/ws/events/{event_id}?token={coordinator}"
        settle = 3.0
        out = tmp / "dashboards.json"
        # The dashboards need to know when to stop: start them with a generous end, measured from now.
        connect_budget = 60 + args.clients / 50
        until = time.time() + connect_budget + args.seconds + settle
        dash = subprocess.Popen([sys.executable, "-m", "loadtest.bench_live", "--clients", str(args.clients),
                                 "--dashboards", url, str(until), str(out), str(args.sample)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        procs.append(dash)
        assert dash.stdout is not None
        ready_line = dash.stdout.readline().decode().strip()
        connected_at = time.time()
        rss_connected = live_proc.memory_info().rss
        print(f"{ready_line.split()[-1] if ready_line else 0} dashboards connected in "
              f"{connected_at - (until - connect_budget - args.seconds - settle):.1f} s; sending "
              f"{args.rate}/s for {args.seconds:.0f} s", flush=True)
        peak = [rss_connected]
        cpu_before = live_proc.cpu_times()
        dash_proc = psutil.Process(dash.pid)
        dash_before = dash_proc.cpu_times()

        async def sample_memory(stop: asyncio.Event) -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], live_proc.memory_info().rss)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)

        async def run_load() -> list[tuple[str, float, int]]:
            stop = asyncio.Event()
            watcher = asyncio.create_task(sample_memory(stop))
            answers = await send(base, event_id, device_token, cards, args.rate, args.seconds)
            stop.set()
            await watcher
            return answers

        started = time.time()
        answers = asyncio.run(run_load())
        sent_for = time.time() - started
        cpu_after = live_proc.cpu_times()
        dash_after = dash_proc.cpu_times()
        time.sleep(settle)  # the last scans' messages are on their way
        assert dash.stdin is not None
        dash.stdin.write(b"stop\n")
        dash.stdin.flush()
        dash.wait(timeout=max(5.0, until - time.time() + 30))
        result = orjson.loads(out.read_bytes())
        ids = asyncio.run(stream_ids(redis_url, event_id))

        lat: list[float] = []
        missed = 0
        ok = [(s, t) for s, t, status in answers if status == 200 and s in ids]
        for seen in result["seen"]:
            if not seen:
                continue
            keys = [sid(stream_id) for _, stream_id in seen]
            # Messages carry the stream id they include up to; the first one at or past a scan shows it.
            running = []
            best = (0, 0)
            for k in keys:
                best = max(best, k)
                running.append(best)
            for scan_id, answered in ok:
                i = bisect.bisect_left(running, sid(ids[scan_id]))
                if i == len(running):
                    missed += 1
                    continue
                lat.append(max(0.0, seen[i][0] - answered) * 1000)
        cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        report = {
            "clients_connected": result["connected"], "connect_failures": result["counts"]["failures"],
            "clients_closed_early": result["counts"]["closed"], "snapshots": result["counts"]["snapshots"],
            "messages_received": result["counts"]["messages"],
            "scans_sent": len(answers), "scans_ok": len(ok), "achieved_rate": round(len(answers) / sent_for, 1),
            "timed_pairs": len(lat), "not_seen": missed,
            "answer_to_dashboard_ms": {"p50": round(percentile(lat, 0.5), 1), "p99": round(percentile(lat, 0.99), 1),
                                       "max": round(max(lat), 1) if lat else None},
            "live_rss_mib": {"idle": round(rss_idle / 2**20, 1), "with_clients": round(rss_connected / 2**20, 1),
                             "peak_under_load": round(peak[0] / 2**20, 1)},
            "live_cpu_share_during_load": round(cpu / sent_for, 2),
            "dashboards_cpu_share_during_load": round((dash_after.user + dash_after.system - dash_before.user
                                                       - dash_before.system) / sent_for, 2),
            "load_average": os.getloadavg(), "cpus": os.cpu_count(),
        }
        print(json.dumps(report, indent=2))
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
                if proc.poll() is None:
                    proc.kill()
        vk.stop()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
