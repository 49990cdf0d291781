"""A festival's roster through the console's own routes, as the office sends it: the file as base64 in JSON to
roster/check, then roster/import, on one gateway process. Prints how long each took, the file's size, the
gateway's memory before and at its peak, and how long a /healthz on the same process waited meanwhile (the
file is parsed in a thread: the scans on that loop should not wait for it).

    .venv/bin/python -m loadtest.bench_roster_upload [--size 78633] [--encoding cp950|utf-8-sig] [--profile OUT]

Embedded PostgreSQL and Valkey in a scratch folder, and `checkin gateway --single`; all stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import psutil

from checkin.access.accounts import add_user
from checkin.db import migrate
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.roster.synth import CITY_VOLUNTEERS, generate_roster, write_roster_csv
from checkin.servers import free_port
from loadtest.event_factory import make_event
from loadtest.profiling import py_spy
from loadtest.scratch import scratch_servers
from loadtest.system import System, wait_ready

PROBE_EVERY_S = 0.05


def roster_file(size: int, encoding: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.csv"
        write_roster_csv(generate_roster(size), path, encoding=encoding)
        return path.read_bytes()


async def _watch(base: str, pid: int, stop: asyncio.Event, waits: list[float], rss: list[int]) -> None:
    """/healthz every PROBE_EVERY_S (its answer time in seconds) and the gateway's RSS, until stopped."""
    process = psutil.Process(pid)
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            started = time.perf_counter()
            async with http.get(f"{base}/healthz") as resp:
                await resp.read()
            waits.append(time.perf_counter() - started)
            rss.append(process.memory_info().rss)
            await asyncio.sleep(PROBE_EVERY_S)


def _profile(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the gateway, every thread apart (the event loop's own stacks tell what it waited on)."""
    exe = py_spy()
    if exe is None:
        raise SystemExit("py-spy is not installed: make bench-deps")
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", "200", "--threads", "--format", "raw",
                             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _send(http: aiohttp.ClientSession, url: str, body: bytes, token: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    async with http.post(url, data=body, headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"}) as resp:
        answer = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"{url} answered {resp.status}: {str(answer)[:300]}")
    return time.perf_counter() - started, answer


async def run(size: int, encoding: str, profile: Path | None = None, again: int = 0) -> dict[str, Any]:
    data = roster_file(size, encoding)
    body = orjson.dumps({"file": base64.b64encode(data).decode("ascii")})
    with scratch_servers("checkin-rosterup-") as (scratch, pg_url, redis_url):
        conn = await asyncpg.connect(pg_url)
        redis = create_redis(redis_url)
        try:
            await migrate(conn)
            event_id = (await make_event(conn, redis, Keys("checkin"), volunteers=1)).event_id
            _, token = await add_user(conn, "名冊測試", "admin", None)
        finally:
            await redis.aclose()
            await conn.close()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        system = System({**os.environ, "CHECKIN_POSTGRES_URL": pg_url, "CHECKIN_REDIS_URL": redis_url,
                         "CHECKIN_REDIS_PREFIX": "checkin", "CHECKIN_DATA_DIR": str(scratch / "data"),
                         "CHECKIN_GATEWAY_PORT": str(port), "CHECKIN_LOG_LEVEL": "WARNING"}, scratch)
        try:
            gateway = system.start("gw", ["gateway", "--single"])
            await asyncio.to_thread(wait_ready, f"{base}/readyz")
            rss_before = psutil.Process(gateway.pid).memory_info().rss
            idle: list[float] = []  # the same probe for a second with nothing else to do: the baseline
            stop = asyncio.Event()
            watcher = asyncio.create_task(_watch(base, gateway.pid, stop, idle, []))
            await asyncio.sleep(1.0)
            stop.set()
            await watcher
            spy = _profile(gateway.pid, profile) if profile else None
            waits: list[float] = []
            rss: list[int] = []
            stop = asyncio.Event()
            watcher = asyncio.create_task(_watch(base, gateway.pid, stop, waits, rss))
            timeout = aiohttp.ClientTimeout(total=900)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                route = f"{base}/api/v1/events/{event_id}/roster"
                check_s, checked = await _send(http, f"{route}/check", body, token)
                import_s, imported = await _send(http, f"{route}/import", body, token)
            stop.set()
            await watcher
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes what it has sampled and exits
                spy.wait(30)
            await asyncio.sleep(2.0)
            rss_after = psutil.Process(gateway.pid).memory_info().rss  # what the process keeps afterwards
            rss_again = []  # after each further check: kept memory reused, or growing (a leak)?
            async with aiohttp.ClientSession(timeout=timeout) as http:
                for _ in range(again):
                    await _send(http, f"{route}/check", body, token)
                    await asyncio.sleep(1.0)
                    rss_again.append(round(psutil.Process(gateway.pid).memory_info().rss / 1e6))
            system.check_alive()
        finally:
            system.stop_all()
    waits.sort()
    return {
        "volunteers": size, "encoding": checked["encoding"], "file_mb": round(len(data) / 1e6, 1),
        "body_mb": round(len(body) / 1e6, 1), "rows_checked": checked["rows"], "rows_imported": imported["rows"],
        "check_s": round(check_s, 2), "import_s": round(import_s, 2),
        "inserted": imported["counts"]["volunteers"]["inserted"],
        "rss_before_mb": round(rss_before / 1e6), "rss_peak_mb": round(max(rss, default=rss_before) / 1e6),
        "rss_after_mb": round(rss_after / 1e6), "rss_after_each_further_check_mb": rss_again,
        "healthz_idle_median_ms": round(statistics.median(idle) * 1000, 1),
        "healthz_probes": len(waits), "healthz_median_ms": round(statistics.median(waits) * 1000, 1),
        "healthz_max_ms": round(waits[-1] * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_roster_upload", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=CITY_VOLUNTEERS, help="volunteers on the roster")
    parser.add_argument("--encoding", default="cp950", choices=["cp950", "utf-8-sig"], help="the file's encoding")
    parser.add_argument("--profile", type=Path, help="py-spy the gateway during the upload into this file (raw)")
    parser.add_argument("--again", type=int, default=0, choices=range(0, 11), metavar="0-10",
                        help="further checks of the same file afterwards, the gateway's RSS after each")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.size, args.encoding, args.profile, args.again))
    print(f"roster of {result['volunteers']:,} volunteers ({result['encoding']}, {result['file_mb']} MB; "
          f"{result['body_mb']} MB of JSON) through one gateway process")
    print(f"  check   {result['check_s']:8.2f} s   ({result['rows_checked']:,} rows, nothing written)")
    print(f"  import  {result['import_s']:8.2f} s   ({result['inserted']:,} new volunteers)")
    print(f"  gateway RSS {result['rss_before_mb']} MB before, {result['rss_peak_mb']} MB at its peak, "
          f"{result['rss_after_mb']} MB 2 s after")
    if result["rss_after_each_further_check_mb"]:
        print(f"  RSS after each further check: {result['rss_after_each_further_check_mb']} MB")
    print(f"  /healthz on the same process meanwhile: {result['healthz_probes']} probes, median "
          f"{result['healthz_median_ms']} ms, slowest {result['healthz_max_ms']} ms (idle before: median "
          f"{result['healthz_idle_median_ms']} ms)")
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
