"""The gateway's own cost: CPU time per scan over a fixed closed-loop run, for 1 or more processes.

    .venv/bin/python -m loadtest.bench_gateway [--scans 20000] [--workers 1,2] [--kiosks-per-gate 6]
        [--open-rate 4000 --open-seconds 10] [--profile]

Throughput on a shared machine moves with everyone else's work; the CPU seconds the gateway
processes spend on a fixed number of scans (psutil cpu_times before and after) hardly do, so that is
the main figure. Embedded PostgreSQL and Valkey in a folder under /tmp, no recorder (the stream only
grows), gateways as child processes on a free loopback port, stopped by PID at the end. Single-scan
requests only (the live path); journal batches are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil

from checkin.db import migrate
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.servers import free_port
from loadtest import profiling, report
from loadtest.fixture import RequestBuilder, write_fixture
from loadtest.http_load import Request, closed_loop, open_loop
from loadtest.scenario import days_for, make_layout, make_plan
from loadtest.scratch import scratch_servers
from loadtest.system import System, load_average, raise_fd_limit, wait_ready

EVENT_ID = "lantern-gw"


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


async def _measure(system: System, host: str, port: int, requests: list[Request], args: argparse.Namespace,
                   workers: int, tmp: Path) -> dict[str, Any]:
    pids = [p.pid for n, p in system.procs.items() if n.startswith("gw")]
    warm, rest = requests[: args.warmup], requests[args.warmup:]
    await closed_loop(host, port, warm, 600)
    runs = []
    for _ in range(args.repeat):
        chunk, rest = rest[: args.scans], rest[args.scans:]
        load = load_average()
        cpu0 = _cpu(pids)
        stats, _ = await closed_loop(host, port, chunk, 600)
        cpu = _cpu(pids) - cpu0
        span = max(1e-9, stats.last_answer - stats.first_send)
        runs.append({
            "scans": stats.answered_scans, "failed": stats.failed_scans, "errors": dict(stats.errors),
            "gateway_cpu_us_per_scan": round(1e6 * cpu / max(1, stats.answered_scans), 1),
            "closed_per_s": round(stats.answered_scans / span), "p50_ms": report.pct(stats.latencies_ms, 50)["p50"],
            "generator_cpu_us": round(1e6 * stats.generator_cpu_s / max(1, stats.sent_requests), 1),
            "load_before": load, "load_after": load_average(),
        })
    out: dict[str, Any] = {"workers": workers, "closed": runs,
                           "rss_mb": [round(psutil.Process(p).memory_info().rss / 2**20, 1) for p in pids]}
    if args.open_rate:
        chunk = rest[: int(args.open_rate * args.open_seconds)]
        rest = rest[len(chunk):]
        spies = [(pid, profiling.start(pid, int(args.open_seconds), tmp / f"profile-{pid}.txt"))
                 for pid in pids] if args.profile else []
        load = load_average()
        cpu0 = _cpu(pids)
        stats, _ = await open_loop(host, port, chunk, args.open_rate, args.open_seconds)
        cpu = _cpu(pids) - cpu0
        span = max(1e-9, stats.last_answer - stats.first_send)
        out["open"] = {"rate": args.open_rate, "scans": stats.answered_scans, "failed": stats.failed_scans,
                       "accepted_per_s": round(stats.answered_scans / span),
                       "latency_ms": report.pct(stats.latencies_ms, 50, 95, 99),
                       "gateway_cpu_us_per_scan": round(1e6 * cpu / max(1, stats.answered_scans), 1),
                       "load_before": load, "load_after": load_average()}
        for pid, spy in spies:
            if spy is not None:
                spy.wait(timeout=60)
                folded = tmp / f"profile-{pid}.txt"
                if folded.exists():
                    out.setdefault("profile", []).append(profiling.summarize(folded))
                    if args.keep_profile:
                        shutil.copy(folded, Path(args.keep_profile) / folded.name)
    out["rss_mb_after"] = [round(psutil.Process(p).memory_info().rss / 2**20, 1) for p in pids]
    return out


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    raise_fd_limit()
    worker_counts = [int(w) for w in args.workers.split(",")]
    codes = args.code.split(",") if args.code else [""]
    configs = [(code, workers) for _ in range(args.rounds) for code in codes for workers in worker_counts]
    per_config = args.warmup + args.scans * args.repeat + int(args.open_rate * args.open_seconds)
    needed = per_config * len(configs)
    results = []
    with scratch_servers("checkin-gwbench-") as (tmp, pg_url, redis_url):
        conn = await asyncpg.connect(pg_url)
        redis = create_redis(redis_url)
        try:
            await migrate(conn)
            keys = Keys("checkin")
            layout = make_layout(EVENT_ID, days_for(int(needed * 1.1), args.volunteers), args.kiosks_per_gate)
            plan = make_plan(layout, args.volunteers)
            fixture = await write_fixture(conn, redis, keys, plan)
            port = free_port()
            builder = RequestBuilder(fixture, layout, "127.0.0.1", port)
            singles = [Request(u.device, builder.request(u), 1, False) for u in plan.units if not u.batch]
            env = {**os.environ, "CHECKIN_POSTGRES_URL": pg_url, "CHECKIN_REDIS_URL": redis_url,
                   "CHECKIN_REDIS_PREFIX": "checkin", "CHECKIN_DATA_DIR": str(tmp / "data"),
                   "CHECKIN_GATEWAY_PORT": str(port), "CHECKIN_LOG_LEVEL": "WARNING",
                   "CHECKIN_DEVICE_SCANS_PER_S": "0"}
            cursor = 0
            for code, workers in configs:
                # Another checkout's gateway (e.g. `git archive <commit> checkin | tar -x -C DIR`) for A/B runs.
                system = System({**env, "PYTHONPATH": code} if code else env,
                                Path(args.log_dir) if args.log_dir else tmp)
                try:
                    # `python -m` puts the working directory first on sys.path: start elsewhere for --code.
                    wrap = ["env", f"--chdir={tmp}"] if code else None
                    for i in range(workers):
                        system.start(f"gw{i}", ["gateway", "--single", "--name", f"gw{i}"], wrap)
                    await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}/readyz")
                    mine, cursor = singles[cursor:cursor + per_config], cursor + per_config
                    result = {"code": code or "working tree",
                              **await _measure(system, "127.0.0.1", port, mine, args, workers, tmp)}
                    results.append(result)
                    print(orjson.dumps(result).decode(), flush=True)
                finally:
                    system.stop_all()
        finally:
            await redis.aclose()
            await conn.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_gateway", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=20_000, help="scans in each measured closed-loop run")
    parser.add_argument("--repeat", type=int, default=3, help="measured closed-loop runs per configuration")
    parser.add_argument("--warmup", type=int, default=3_000)
    parser.add_argument("--workers", default="1,2", help="gateway process counts to measure, comma-separated")
    parser.add_argument("--volunteers", type=int, default=5_000)
    parser.add_argument("--kiosks-per-gate", type=int, default=6)
    parser.add_argument("--open-rate", type=float, default=0.0, help="also an open-loop run at this rate")
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument("--profile", action="store_true", help="py-spy the gateways during the open-loop run")
    parser.add_argument("--keep-profile", help="copy py-spy's folded stacks into this folder")
    parser.add_argument("--log-dir", help="keep the gateways' logs in this folder")
    parser.add_argument("--code", help="comma-separated folders holding another `checkin` package to run as the"
                                       " gateway ('' = this working tree), measured in turn")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole set of configurations")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        import uvloop

        uvloop.run(run(args))
    except ImportError:
        asyncio.run(run(args))
    print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
