"""`make bench`: the whole system under a replayed Lantern Festival shift change, and how close it runs
to the machine's limits.

    .venv/bin/python -m loadtest.run [--quick] [--profile] [--rate 4000] [--duration 60]
        [--phases open,dashboards,closed,drain,reference] [--wrk-threads 1]
        [--postgres-url URL --redis-url URL]

Starts embedded PostgreSQL and Valkey in a folder under /tmp (or uses the given servers, in a
scratch database and key prefix), the gateways, the recorder and the live server as child
processes on free loopback ports, runs the phases, writes loadtest/results/latest.json and
summary.md, prints a table, and stops everything it started. The closed loop is driven by wrk
(loadtest/wrk_load.py), the open-loop and dashboard phases by a small C client
(loadtest/c_open_loop.py); each phase reports its generator's own CPU share of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from checkin.db import migrate
from checkin.events.store import load_event
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.servers import embedded_servers, free_port
from loadtest import c_open_loop, drain, profiling, reference, report, wrk_load
from loadtest.fixture import BENCH_POLICY, Fixture, RequestBuilder, write_fixture
from loadtest.http_load import PhaseStats, Request
from loadtest.scenario import Plan, closed_units, days_for, make_layout, make_plan
from loadtest.system import (
    MemoryWatch,
    System,
    load_average,
    machine,
    postgres_pids,
    raise_fd_limit,
    wait_ready,
)
from loadtest.ws_watch import Dashboards

RESULTS = Path(__file__).resolve().parent / "results"
EVENT_ID = "lantern-bench"
PRESETS: dict[str, dict[str, Any]] = {
    "full": {"volunteers": 20_000, "kiosks_per_gate": 6, "open_rate": 4000, "duration": 60, "closed_duration": 15,
             "ws_clients": 1000, "ws_rate": 500, "ws_duration": 20, "drain_rows": 200_000,
             "ref_calls": 100_000, "ref_xadd": 200_000, "ref_copy": 200_000},
    "quick": {"volunteers": 2_000, "kiosks_per_gate": 2, "open_rate": 500, "duration": 8, "closed_duration": 4,
              "ws_clients": 100, "ws_rate": 200, "ws_duration": 4, "drain_rows": 20_000,
              "ref_calls": 10_000, "ref_xadd": 20_000, "ref_copy": 20_000},
}
# Scans a second the closed-loop phase has prebuilt: each is sent once, so this caps what it can measure
# (a wrk thread that runs out stops, and the results say so).
CLOSED_CAP = 12_000
PHASES = ("open", "dashboards", "closed", "drain", "reference")


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


@contextlib.asynccontextmanager
async def servers(args: argparse.Namespace, data_dir: Path) -> AsyncIterator[tuple[str, str, str]]:
    """(postgres url, redis url, key prefix): embedded in data_dir, or a scratch database and prefix."""
    if args.postgres_url and args.redis_url:
        name = f"checkin_bench_{secrets.token_hex(3)}"
        admin = await asyncpg.connect(args.postgres_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        prefix = f"checkin-bench-{secrets.token_hex(3)}"
        try:
            yield _with_database(args.postgres_url, name), args.redis_url, prefix
        finally:
            redis = create_redis(args.redis_url)
            batch = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=5000)]
            for i in range(0, len(batch), 5000):
                await redis.unlink(*batch[i:i + 5000])
            await redis.aclose()
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        return
    with embedded_servers(data_dir, postgres_url=None, redis_url=None, redis_port=free_port()) as (pg, rd):
        yield pg, rd, "checkin"


def _cores() -> int:
    return os.cpu_count() or 1


def _phase_result(stats: PhaseStats, sent: int, load_before: list[float], tool: str) -> dict[str, Any]:
    span = max(1e-9, stats.last_answer - stats.first_send)
    return {
        "mode": stats.mode, "target_rate": stats.target_rate or None,
        "sent_requests": stats.sent_requests, "sent_scans": stats.sent_scans,
        "answered_requests": stats.answered_requests, "answered_scans": stats.answered_scans,
        "failed_scans": stats.failed_scans, "unaccounted_scans": stats.sent_scans - stats.answered_scans - stats.failed_scans,
        "seconds": round(span, 2), "accepted_per_s": round(stats.answered_scans / span),
        "latency_ms": report.pct(stats.latencies_ms, 50, 95, 99),
        "batch_latency_ms": report.pct(stats.batch_latencies_ms, 50, 99),
        "batches": len(stats.batch_latencies_ms),
        "generator_send_lag_ms": report.pct(stats.send_lag_ms, 50, 99),
        "generator_cpu_us_per_request": round(1e6 * stats.generator_cpu_s / max(1, stats.sent_requests), 1),
        "generator": report.generator(tool, stats.generator_cpu_s, stats.generator_wall_s, _cores()),
        "verdicts": dict(stats.verdicts.most_common()), "errors": dict(stats.errors.most_common()),
        "load_before": load_before, "load_after": load_average(),
    }


async def _stored_verdicts(conn: asyncpg.Connection, since: float, until: float) -> dict[str, int]:
    """Verdict/reason counts of the phase's stored scans (the generators do not read the answers' bodies)."""
    rows = await conn.fetch(
        "SELECT verdict || '/' || coalesce(reason, '-') AS v, count(*) AS n FROM scans WHERE event_id = $1"
        " AND received_at >= to_timestamp($2) AND received_at <= to_timestamp($3) GROUP BY 1 ORDER BY n DESC",
        EVENT_ID, since - 0.5, until + 0.5)
    return {r["v"]: r["n"] for r in rows}


async def _set_debounce(conn: asyncpg.Connection, redis: Any, keys: Keys, seconds: int) -> None:
    """The event's debounce, in Postgres and in the copy the scan script reads."""
    await conn.execute("UPDATE events SET policy = policy || jsonb_build_object('debounce_s', $2::int)"
                       " WHERE event_id = $1", EVENT_ID, seconds)
    await load_event(conn, redis, keys, EVENT_ID)


async def _postgres_lag(conn: asyncpg.Connection, redis: Any, keys: Keys, since: float, until: float,
                        answered: int) -> dict[str, Any]:
    """Wait for the recorder to catch up, then the lag of the scans received in [since, until]."""
    stream = keys.event(EVENT_ID).stream
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        lag, pending = await drain.group_backlog(redis, stream)
        if lag + pending == 0:
            break
        await asyncio.sleep(0.1)
    row = await conn.fetchrow(
        "SELECT count(*) AS n, percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM recorded_at - received_at)) AS q,"
        " max(extract(epoch FROM recorded_at - received_at)) AS top"
        " FROM scans WHERE event_id = $1 AND received_at >= to_timestamp($2) AND received_at <= to_timestamp($3)",
        EVENT_ID, since - 0.5, until + 0.5)
    q = row["q"] or [None, None]
    ms = [None if v is None else round(float(v) * 1000, 1) for v in (*q, row["top"])]
    # Scans given up on (connection closed after the answer timeout) may still be stored: not "missing".
    return {"stored": row["n"], "missing": max(0, answered - row["n"]),
            "stored_beyond_answered": max(0, row["n"] - answered),
            "lag_ms": {"p50": ms[0], "p99": ms[1], "max": ms[2]}}


class Bench:
    def __init__(self, args: argparse.Namespace, cfg: dict[str, Any]) -> None:
        self.args = args
        self.cfg = cfg
        self.cursor = 0
        self.requests: list[Request] = []
        self.plan: Plan | None = None
        self.builder: RequestBuilder | None = None
        self.open_client: Path | None = None
        self.results: dict[str, Any] = {}

    def take(self, scans: int) -> list[Request]:
        out, total = [], 0
        while self.cursor < len(self.requests) and total < scans:
            out.append(self.requests[self.cursor])
            total += self.requests[self.cursor].scans
            self.cursor += 1
        return out

    def watch(self, system: System, data_dir: Path, valkey_pid: int | None) -> MemoryWatch:
        pids: dict[str, int | list[int]] = {name: p.pid for name, p in system.procs.items()}
        pids["gateway"] = [p.pid for n, p in system.procs.items() if n.startswith("gw")]
        if valkey_pid:
            pids["valkey"] = valkey_pid
        if not self.args.postgres_url:
            pids["postgres (largest process)"] = postgres_pids(data_dir)
        return MemoryWatch(pids)

    async def run(self) -> dict[str, Any]:
        args = self.args
        raise_fd_limit()
        tmp = Path(tempfile.mkdtemp(prefix="checkin-bench-"))
        started = datetime.now(UTC)
        res = self.results
        res.update({"started_at": started.isoformat(timespec="seconds"), "mode": "quick" if args.quick else "full",
                    "command": "python -m loadtest.run " + " ".join(sys.argv[1:]), "machine": machine()})
        try:
            async with servers(args, tmp) as (pg_url, redis_url, prefix):
                await self._run(tmp, pg_url, redis_url, prefix)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        res["targets"] = report.verdicts(res)
        res["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        return res

    async def _run(self, tmp: Path, pg_url: str, redis_url: str, prefix: str) -> None:
        args, cfg, res = self.args, self.cfg, self.results
        keys = Keys(prefix)
        conn = await asyncpg.connect(pg_url)
        redis = create_redis(redis_url)
        system = System({**os.environ, "CHECKIN_POSTGRES_URL": pg_url, "CHECKIN_REDIS_URL": redis_url,
                         "CHECKIN_REDIS_PREFIX": prefix, "CHECKIN_DATA_DIR": str(tmp / "data"),
                         "CHECKIN_GATEWAY_PORT": str(free_port()), "CHECKIN_LIVE_PORT": str(free_port()),
                         "CHECKIN_LOG_LEVEL": "WARNING",
                         # The replay runs many times faster than a person can scan at one kiosk.
                         "CHECKIN_DEVICE_SCANS_PER_S": "0"}, tmp)
        try:
            await migrate(conn)
            info = await redis.info("server")
            res["versions"] = {
                "postgres": await conn.fetchval("SHOW server_version"),
                "redis": f"Valkey {info['valkey_version']}" if "valkey_version" in info else f"Redis {info['redis_version']}",
            }
            began = time.perf_counter()
            needed = cfg["open_rate"] * cfg["duration"] + cfg["ws_rate"] * cfg["ws_duration"]
            layout = make_layout(EVENT_ID, days_for(needed, cfg["volunteers"]), cfg["kiosks_per_gate"])
            plan = make_plan(layout, cfg["volunteers"])
            _say(f"plan: {plan.scan_count:,} scans over {len(layout.days)} festival days; writing the event")
            fixture = await write_fixture(conn, redis, keys, plan)
            host, port = "127.0.0.1", int(system.env["CHECKIN_GATEWAY_PORT"])
            builder = RequestBuilder(fixture, layout, host, port)
            self.requests = [Request(u.device, builder.request(u), len(u.scans), u.batch) for u in plan.units]
            self.plan, self.builder = plan, builder
            res["config"] = {**cfg, "gateway_workers": 2, "recorder_batch": 1000, "device_rate_limit": "off", "gates": len(layout.gates),
                             "kiosks": len(layout.devices), "festival_days": len(layout.days),
                             "plan_scans": plan.scan_count, "plan_kinds": plan.kinds,
                             "setup_seconds": round(time.perf_counter() - began, 1), "key_prefix": prefix}
            for i in range(2):
                system.start(f"gw{i}", ["gateway", "--single", "--name", f"gw{i}"])
            system.start("recorder", ["consumer", "--name", "recorder-1"])
            system.start("live", ["live"])
            await asyncio.to_thread(wait_ready, f"http://{host}:{port}/readyz")
            _say(f"system up after {time.perf_counter() - began:.1f} s")
            valkey_pid = int(info.get("process_id") or 0) or None
            peaks: dict[str, float] = {}
            for phase in args.phases:
                system.check_alive()
                _say(f"{phase} (load {load_average()})")
                watch = self.watch(system, tmp, valkey_pid)
                with watch:
                    try:
                        await getattr(self, f"phase_{phase}")(system, conn, redis, keys, fixture, redis_url, host,
                                                              port, tmp)
                    except Exception as exc:  # one broken phase still leaves the others' figures
                        _say(f"{phase} failed: {exc!r}")
                        res[phase] = {"error": repr(exc)}
                mb = {k: round(v / 2**20, 1) for k, v in watch.peak.items() if v}
                if phase in res and isinstance(res[phase], dict):
                    res[phase]["peak_rss_mb"] = mb
                for k, v in mb.items():
                    peaks[k] = max(peaks.get(k, 0), v)
            res["peak_rss_mb"] = peaks
        finally:
            system.stop_all()
            await redis.aclose()
            await conn.close()

    async def phase_open(self, system: System, conn: asyncpg.Connection, redis: Any, keys: Keys,
                         fixture: Fixture, redis_url: str, host: str, port: int, tmp: Path) -> None:
        cfg = self.cfg
        requests = self.take(int(cfg["open_rate"] * cfg["duration"] * 1.02))
        spies = []
        if self.args.profile:
            for name in ("gw0", "gw1"):
                out = tmp / f"profile-{name}.txt"
                spy = profiling.start(system.procs[name].pid, int(cfg["duration"]), out)
                if spy is not None:
                    spies.append((name, spy, out))
        load = load_average()
        since = time.time()
        stats, sent = await asyncio.to_thread(c_open_loop.open_loop, self._open_client(tmp), host, port, requests,
                                              cfg["open_rate"], cfg["duration"], tmp)
        until = time.time()
        result = _phase_result(stats, sent, load, "C open loop (loadtest/open_loop.c)")
        result["postgres"] = await _postgres_lag(conn, redis, keys, since, until, stats.answered_scans)
        result["verdicts"] = await _stored_verdicts(conn, since, until)
        self.results["open"] = result
        if spies:
            self.results["profile"] = {}
            self.args.out.mkdir(parents=True, exist_ok=True)
            for name, spy, out in spies:
                spy.wait(timeout=60)
                if out.exists():
                    shutil.copy(out, self.args.out / out.name)
                    self.results["profile"][name] = profiling.summarize(out)
        elif self.args.profile:
            self.results["profile"] = {"error": "py-spy is not installed: pip install py-spy"}

    def _open_client(self, tmp: Path) -> Path:
        if self.open_client is None:
            self.open_client = c_open_loop.build(tmp)
        return self.open_client

    async def phase_dashboards(self, system: System, conn: asyncpg.Connection, redis: Any, keys: Keys,
                               fixture: Fixture, redis_url: str, host: str, port: int, tmp: Path) -> None:
        cfg = self.cfg
        url = f"ws://{host}:{system.env['CHECKIN_LIVE_PORT']}/ws/events/{EVENT_ID}?token={fixture.coordinator_token}"
        boards = Dashboards(url, cfg["ws_clients"])
        await boards.open()
        try:
            await asyncio.sleep(0.5)
            boards.measuring = True
            load = load_average()
            since, harness0 = time.time(), time.process_time()
            stats, sent = await asyncio.to_thread(
                c_open_loop.open_loop, self._open_client(tmp), host, port,
                self.take(int(cfg["ws_rate"] * cfg["ws_duration"])), cfg["ws_rate"], cfg["ws_duration"], tmp,
                name="dashboards")
            # The dashboards' websocket clients run in this process: their CPU is the generator's too.
            clients_cpu = time.process_time() - harness0
            until = time.time()
            await asyncio.sleep(0.5)  # the last tick's deltas
            boards.measuring = False
        finally:
            await boards.close()
        result = _phase_result(stats, sent, load, "C open loop")
        result["generator"] = report.generator(
            f"C open loop ({stats.generator_cpu_s:.2f} CPU s) and the {cfg['ws_clients']} websocket clients in"
            f" Python ({clients_cpu:.2f} CPU s)", stats.generator_cpu_s + clients_cpu, stats.generator_wall_s,
            _cores())
        result["verdicts"] = await _stored_verdicts(conn, since, until)
        result.update({"clients": boards.stats.clients, "connect_failures": boards.stats.connect_failures,
                       "deltas": boards.stats.deltas, "disconnects": boards.stats.disconnects,
                       "lag_ms": report.pct(boards.stats.lag_ms, 50, 95, 99)})
        self.results["dashboards"] = result

    async def phase_closed(self, system: System, conn: asyncpg.Connection, redis: Any, keys: Keys,
                           fixture: Fixture, redis_url: str, host: str, port: int, tmp: Path) -> None:
        """wrk at saturation, every scan a check-in or check-out, and how far Postgres lags behind."""
        assert self.plan is not None and self.builder is not None
        wrk_load.find_wrk()  # before anything is built or changed
        seconds = self.cfg["closed_duration"]
        units = closed_units(self.plan, int(CLOSED_CAP * seconds))
        requests = [Request(u.device, self.builder.request(u), 1, False) for u in units]
        connections = len({u.device for u in units})  # one keep-alive connection per sending kiosk
        threads = max(1, min(self.args.wrk_threads, connections))
        prefix = await asyncio.to_thread(wrk_load.prepare, requests, threads, tmp)
        await _set_debounce(conn, redis, keys, 0)  # so a card's every next scan toggles it in or out
        load = load_average()
        harness0 = time.process_time()
        since = time.time()
        try:
            run = await asyncio.to_thread(wrk_load.run_closed, host, port, prefix, threads, connections, seconds,
                                          tmp)
        finally:
            until = time.time()
            harness_cpu = time.process_time() - harness0
            await _set_debounce(conn, redis, keys, BENCH_POLICY.debounce_s)
        w = run.summary
        duration = w["duration_us"] / 1e6
        scans = w["responses"] - w["extra"]  # the rest were a stopped thread's health checks
        failed = w["status_errors"]  # a timed-out request's late answer still counts in responses
        answered = scans - w["status_errors"]
        stored = await _postgres_lag(conn, redis, keys, since, until, answered)
        verdicts = await _stored_verdicts(conn, since, until)
        lat = {k: round(v / 1000, 2) for k, v in w["latency_us"].items()}
        self.results["closed"] = {
            "mode": "closed", "target_rate": None, "driver": "wrk", "wrk_command": " ".join(run.command),
            "connections": connections, "prebuilt_scans": len(requests),
            "sent_scans": w["sent"], "answered_scans": answered, "failed_scans": failed,
            "unaccounted_scans": w["sent"] - scans,  # in flight when wrk stopped: it reads no later answers
            "socket_errors": {k: w[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")},
            "prebuilt_ran_out": w["exhausted_threads"] > 0,
            "seconds": round(duration, 2), "accepted_per_s": round(answered / duration) if duration else 0,
            "latency_ms": {"p50": lat["p50"], "p95": lat["p95"], "p99": lat["p99"], "max": lat["max"]},
            "postgres": stored, "stored_verdicts": verdicts,
            "not_in_or_out": sum(n for v, n in verdicts.items()
                                 if v.split("/")[0] not in ("checked_in", "checked_out")),
            "generator": report.generator("wrk (C, loadtest/wrk_scans.lua)", run.cpu_s, run.wall_s, _cores(),
                                          kernel_cpu_s=round(run.sys_s, 3), harness_cpu_s=round(harness_cpu, 3),
                                          harness_share_pct=report.machine_share(harness_cpu, run.wall_s, _cores())),
            "generator_cpu_us_per_request": round(1e6 * run.cpu_s / max(1, w["responses"]), 1),
            "load_before": load, "load_after": load_average(),
        }

    async def phase_drain(self, system: System, conn: asyncpg.Connection, redis: Any, keys: Keys,
                          fixture: Fixture, redis_url: str, host: str, port: int, tmp: Path) -> None:
        stream = keys.event(EVENT_ID).stream
        await asyncio.to_thread(system.stop, "recorder")
        card_ids = [c.split(".")[2] for c in fixture.cards]
        rows = self.cfg["drain_rows"]
        load = load_average()
        await drain.build_backlog(conn, redis, keys, redis_url, EVENT_ID, fixture.spare_gate, card_ids, rows)
        lag, pending = await drain.group_backlog(redis, stream)
        system.start("recorder-drain", ["consumer", "--name", "recorder-drain"])
        result = await drain.time_drain(redis, stream, lag + pending, timeout_s=120)
        result.update({"load_before": load, "load_after": load_average(), "backlog": lag + pending})
        self.results["drain"] = result

    async def phase_reference(self, system: System, conn: asyncpg.Connection, redis: Any, keys: Keys,
                              fixture: Fixture, redis_url: str, host: str, port: int, tmp: Path) -> None:
        cfg = self.cfg
        load = load_average()
        card_ids = [c.split(".")[2] for c in fixture.cards]
        self.results["reference"] = {
            "evalsha": await reference.evalsha_rate(conn, redis, redis_url, EVENT_ID, fixture.spare_gate, card_ids,
                                                  cfg["ref_calls"]),
            "xadd": await reference.xadd_rate(redis, redis_url, cfg["ref_xadd"]),
            "copy": await reference.copy_rate(conn, cfg["ref_copy"]),
            "load_before": load, "load_after": load_average(),
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run under a minute (CI)")
    parser.add_argument("--profile", action="store_true", help="py-spy on both gateways during the open-loop phase")
    parser.add_argument("--rate", type=float, help="open-loop scans per second")
    parser.add_argument("--duration", type=float, help="open-loop seconds")
    parser.add_argument("--volunteers", type=int)
    parser.add_argument("--closed-duration", type=float, help="closed-loop seconds (wrk)")
    parser.add_argument("--wrk-threads", type=int, default=1,
                        help="wrk threads for the closed loop (one is plenty below ~50,000 requests/s)")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--postgres-url", help="use this server (a scratch database is created and dropped)")
    parser.add_argument("--redis-url", help="use this server (a scratch key prefix, removed afterwards)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json and summary.md go")
    args = parser.parse_args(argv)
    args.phases = [p for p in args.phases.split(",") if p]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if bool(args.postgres_url) != bool(args.redis_url):
        parser.error("give both --postgres-url and --redis-url, or neither")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = dict(PRESETS["quick" if args.quick else "full"])
    for name, key in (("rate", "open_rate"), ("duration", "duration"), ("volunteers", "volunteers"),
                      ("closed_duration", "closed_duration")):
        if getattr(args, name) is not None:
            cfg[key] = getattr(args, name)
    try:
        import uvloop

        results = uvloop.run(Bench(args, cfg).run())
    except ImportError:
        results = asyncio.run(Bench(args, cfg).run())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    (args.out / "summary.md").write_text(report.markdown(results), encoding="utf-8")
    print(report.table(results))
    print(f"\nwritten: {args.out / 'latest.json'}, {args.out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
