"""Scale-out benchmark: the same closed-loop replay against one gateway, two gateways, and a Valkey Cluster.

    .venv/bin/python -m loadtest.bench_cluster [--seconds 20] [--configs a,b,c] [--volunteers 6000]
        [--kiosks 192] [--out loadtest/results/cluster.json]

(a) one Valkey, one gateway, one recorder; (b) one Valkey, two gateways sharing a port (SO_REUSEPORT),
one recorder; (c) a three-master Valkey Cluster, two gateways, two recorders, three events placed on
three different shards. One embedded PostgreSQL under /tmp serves all three; each configuration gets a
fresh Valkey (no append-only file, as the cluster nodes) and events of its own. Every kiosk is its own
enrolled device; the same volunteers and kiosk count in each configuration, so the gateways verify as
many distinct cards. Afterwards the recorders must have stored every answered scan: counted in Postgres.
Everything runs on this machine, generator included; the load average is recorded with each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil

import checkin.events.store as events
from checkin.db import migrate
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.roster.synth import generate_roster
from checkin.servers import (
    EmbeddedPostgres,
    EmbeddedValkey,
    EmbeddedValkeyCluster,
    free_cluster_ports,
    free_port,
)
from loadtest import drain, report
from loadtest.fixture import (
    BENCH_POLICY,
    Fixture,
    RequestBuilder,
    _write_layout,
    open_with_kiosks,
    write_fixture,
)
from loadtest.http_load import PhaseStats, Request, closed_loop
from loadtest.scenario import Layout, Plan, days_for, make_layout, make_plan
from loadtest.system import System, load_average, machine, postgres_pids, raise_fd_limit, wait_ready

RESULTS = Path(__file__).resolve().parent / "results"
PREFIX = "checkin"
CAP_PER_S = 5000  # scans a second the plan has in hand for each configuration (more than it has taken)
MAX_SECONDS = 120.0


@dataclass(frozen=True)
class Topology:
    name: str
    what: str
    cluster: bool
    gateways: int
    recorders: int
    events: int


TOPOLOGIES = {
    "a": Topology("a", "1 Valkey, 1 gateway, 1 recorder", False, 1, 1, 1),
    "b": Topology("b", "1 Valkey, 2 gateways (SO_REUSEPORT), 1 recorder", False, 2, 1, 1),
    "c": Topology("c", "3-master Valkey Cluster, 2 gateways, 2 recorders, 3 events", True, 2, 2, 3),
}


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _tagged_layout(event_id: str, tag: str, days: int, kiosks_per_gate: int) -> Layout:
    """The benchmark layout with zone, gate and shift ids made unique to this event (they are global keys)."""
    base = make_layout(event_id, days, kiosks_per_gate)

    def t(name: str) -> str:
        return f"{tag}-{name}"

    return Layout(event_id, [(t(z), n) for z, n in base.zones], [(t(g), t(z), m) for g, z, m in base.gates],
                  [t(g) for g in base.devices], base.days)


async def _add_event(conn: asyncpg.Connection, redis: Any, keys: Keys, plan: Plan, first: Fixture) -> Fixture:
    """Another event for the volunteers (and cards) the first fixture wrote."""
    layout = plan.layout
    ids = [v.volunteer_id for v in generate_roster(plan.volunteers, seed=2023).volunteers]
    await events.create_event(conn, layout.event_id, f"壓力測試 {layout.event_id}", layout.days[0], layout.days[-1],
                              BENCH_POLICY)
    await _write_layout(conn, layout, ids)
    device_ids, tokens, coordinator, spare = await open_with_kiosks(conn, redis, keys, layout)
    return Fixture(layout.event_id, device_ids, tokens, first.cards, first.old_cards, coordinator, spare)


def _event_ids(redis: Any, keys: Keys, topo: Topology) -> list[str]:
    """One event per shard on a cluster (stream key -> node), else plain names."""
    if not topo.cluster:
        return [f"bench-{topo.name}"]
    chosen: dict[str, str] = {}
    n = 0
    while len(chosen) < topo.events:
        event_id = f"bench-{topo.name}{n}"
        chosen.setdefault(redis.get_node_from_key(keys.event(event_id).stream).name, event_id)
        n += 1
    return list(chosen.values())


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, pg_url: str) -> None:
        self.args = args
        self.tmp = tmp
        self.pg_url = pg_url
        self.first: Fixture | None = None

    async def _fixtures(self, conn: asyncpg.Connection, redis: Any, keys: Keys, topo: Topology, port: int,
                        event_ids: list[str]) -> list[Request]:
        args = self.args
        per_event = int(CAP_PER_S * (args.seconds + args.warmup_seconds) * 1.2 / topo.events)
        kiosks_per_gate = max(1, args.kiosks // (32 * topo.events))  # 8 zones x 4 gates per event
        lists: list[list[Request]] = []
        offset = 0
        for i, event_id in enumerate(event_ids):
            layout = _tagged_layout(event_id, f"{topo.name}{i}", days_for(per_event, args.volunteers), kiosks_per_gate)
            plan = make_plan(layout, args.volunteers)
            if self.first is None:
                fixture = self.first = await write_fixture(conn, redis, keys, plan)
            else:
                fixture = await _add_event(conn, redis, keys, plan, self.first)
            # Scan ids come from the builder's seed: one per event, as all configurations share one Postgres.
            builder = RequestBuilder(fixture, layout, "127.0.0.1", port, seed=zlib.crc32(event_id.encode()))
            singles = [Request(offset + u.device, builder.request(u), 1, False) for u in plan.units if not u.batch]
            lists.append(singles[:per_event])
            offset += len(layout.devices)
        # Interleaved, so any slice (the warm-up) holds every event's kiosks.
        return [r for group in zip_longest(*lists) for r in group if r is not None]

    async def run_one(self, topo: Topology) -> dict[str, Any]:
        args, tmp = self.args, self.tmp
        where = tmp / topo.name
        nodes: list[EmbeddedValkey]
        if topo.cluster:
            cluster = EmbeddedValkeyCluster(where, free_cluster_ports(3))
            redis_url, nodes, stop_redis = cluster.start(), cluster.nodes, cluster.stop
        else:
            single = EmbeddedValkey(where, free_port())
            redis_url, nodes, stop_redis = single.start(persist=False), [single], single.stop
        system: System | None = None
        conn = await asyncpg.connect(self.pg_url)
        redis = create_redis(redis_url)
        try:
            if topo.cluster:
                await redis.initialize()
            keys = Keys(PREFIX)
            event_ids = _event_ids(redis, keys, topo)
            port = free_port()
            began = time.perf_counter()
            requests = await self._fixtures(conn, redis, keys, topo, port, event_ids)
            kiosks = len({r.device for r in requests})
            _say(f"{topo.name}: {len(event_ids)} event(s), {kiosks} kiosks, {len(requests):,} scans ready"
                 f" in {time.perf_counter() - began:.0f} s")
            log_dir = Path(args.log_dir) if args.log_dir else where
            log_dir.mkdir(parents=True, exist_ok=True)
            system = System({**os.environ, "CHECKIN_POSTGRES_URL": self.pg_url, "CHECKIN_REDIS_URL": redis_url,
                             "CHECKIN_REDIS_PREFIX": PREFIX, "CHECKIN_DATA_DIR": str(where / "data"),
                             "CHECKIN_GATEWAY_PORT": str(port), "CHECKIN_LOG_LEVEL": "WARNING",
                             # The replay scans far faster than a person at one kiosk.
                             "CHECKIN_DEVICE_SCANS_PER_S": "0"}, log_dir)
            for i in range(topo.gateways):
                system.start(f"{topo.name}-gw{i}", ["gateway", "--single", "--name", f"gw{i}"])
            for i in range(topo.recorders):
                system.start(f"{topo.name}-recorder{i}", ["consumer", "--name", f"recorder-{i}"])
            await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}/readyz", 60)
            # Warm-up: connections, gate directory, scripts loaded; its scans count in the Postgres check.
            cut = int(len(requests) * args.warmup_seconds / (args.seconds + args.warmup_seconds))
            warm, _ = await closed_loop("127.0.0.1", port, requests[:cut], args.warmup_seconds)
            system.check_alive()
            roles = {"gateways": [p.pid for n, p in system.procs.items() if "-gw" in n],
                     "recorders": [p.pid for n, p in system.procs.items() if "-recorder" in n],
                     "valkey": [n.pid for n in nodes if n.pid], "postgres": postgres_pids(tmp)}
            cpu0 = {role: _cpu(pids) for role, pids in roles.items()}
            load = load_average()
            _say(f"{topo.name}: measuring {args.seconds:g} s (load {load})")
            stats, _ = await closed_loop("127.0.0.1", port, requests[cut:], args.seconds)
            wall = max(1e-9, stats.last_answer - stats.first_send)
            cpu = {role: round((_cpu(pids) - cpu0[role]) / wall, 2) for role, pids in roles.items()}
            cpu["generator"] = round(stats.generator_cpu_s / wall, 2)
            result_cpu = per_scan(cpu, stats.answered_scans / wall)
            load_after = load_average()
            system.check_alive()
            stored = await _stored(conn, redis, keys, event_ids, warm.answered_scans + stats.answered_scans)
            result = _result(topo, stats, wall, load, load_after)
            result.update({"kiosks": kiosks, "events": event_ids, "cpu_cores_used": cpu, **result_cpu,
                           "warmup": {"seconds": args.warmup_seconds, "answered_scans": warm.answered_scans},
                           "postgres": {**stored, "sent_including_warmup": warm.sent_scans + stats.sent_scans}})
            if topo.cluster:
                result["shards"] = {e: redis.get_node_from_key(keys.event(e).stream).name for e in event_ids}
            return result
        finally:
            if system is not None:
                system.stop_all()
            await redis.aclose()
            await conn.close()
            stop_redis()


async def _stored(conn: asyncpg.Connection, redis: Any, keys: Keys, event_ids: list[str],
                  answered: int) -> dict[str, Any]:
    """Wait (bounded) until the recorders have drained every stream; then what reached Postgres."""
    began = time.perf_counter()
    deadline = began + 120
    while True:
        backlog = 0
        for event_id in event_ids:
            lag, pending = await drain.group_backlog(redis, keys.event(event_id).stream)
            backlog += lag + pending
        stored = await conn.fetchval("SELECT count(*) FROM scans WHERE event_id = any($1::text[])", event_ids)
        if (backlog == 0 and stored >= answered) or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.2)
    by_event = {r["event_id"]: r["n"] for r in await conn.fetch(
        "SELECT event_id, count(*) AS n FROM scans WHERE event_id = any($1::text[]) GROUP BY event_id", event_ids)}
    # Scans given up on by the generator (connection closed) may be stored too: those are not "missing".
    return {"answered_including_warmup": answered, "stored": stored, "missing": max(0, answered - stored),
            "stored_beyond_answered": max(0, stored - answered), "backlog_left": backlog, "by_event": by_event,
            "drain_seconds": round(time.perf_counter() - began, 1)}


def per_scan(cores: dict[str, float], rate: float) -> dict[str, Any]:
    """CPU microseconds per accepted scan by role: on a shared machine this moves far less than scans/s."""
    system = sum(v for k, v in cores.items() if k != "generator")
    us = {k: round(1e6 * v / max(1e-9, rate)) for k, v in cores.items()}
    return {"cpu_us_per_scan": us, "system_cores_used": round(system, 2),
            "system_cpu_us_per_scan": round(1e6 * system / max(1e-9, rate))}


def _result(topo: Topology, stats: PhaseStats, wall: float, load: list[float], load_after: list[float]) -> dict[str, Any]:
    lat = report.pct(stats.latencies_ms, 50, 99)
    return {"config": topo.name, "topology": topo.what, "gateways": topo.gateways, "recorders": topo.recorders,
            "valkey_nodes": 3 if topo.cluster else 1, "seconds": round(wall, 2),
            "sent_scans": stats.sent_scans, "answered_scans": stats.answered_scans, "failed_scans": stats.failed_scans,
            "accepted_per_s": round(stats.answered_scans / wall), "latency_ms": lat,
            "errors": dict(stats.errors.most_common()),
            "refusals": {k: v for k, v in stats.verdicts.most_common() if k.startswith(("refused", "rejected"))},
            "verdicts": dict(stats.verdicts.most_common()),
            "generator_cpu_us_per_request": round(1e6 * stats.generator_cpu_s / max(1, stats.sent_requests), 1),
            "load_before": load, "load_after": load_after}


def table(results: dict[str, Any]) -> str:
    rows = [f"{'config':<6} {'topology':<58} {'scans/s':>8} {'p50 ms':>7} {'p99 ms':>8} {'errors':>7}"
            f" {'cores':>6} {'µs/scan':>8} {'stored/answered':>16} {'load 1m':>8}"]
    for r in results["configs"]:
        if "error" in r:
            rows.append(f"{r['config']:<6} failed: {r['error']}")
            continue
        pg = r["postgres"]
        rows.append(f"{r['config']:<6} {r['topology']:<58} {r['accepted_per_s']:>8,} {r['latency_ms']['p50']:>7}"
                    f" {r['latency_ms']['p99']:>8} {r['failed_scans']:>7,}"
                    f" {r['system_cores_used']:>6} {r['system_cpu_us_per_scan']:>8}"
                    f" {pg['stored']:>7,}/{pg['answered_including_warmup']:<8,} {r['load_after'][0]:>8}")
    for name, value in results["ratios"].items():
        rows.append(f"{name}: {value}")
    return "\n".join(rows)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="checkin-clusterbench-"))
    out: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                           "command": "python -m loadtest.bench_cluster " + " ".join(sys.argv[1:]),
                           "machine": machine(), "settings": {k: v for k, v in vars(args).items() if k != "out"},
                           "configs": []}
    pg = EmbeddedPostgres(tmp)
    try:
        pg_url = pg.start()
        conn = await asyncpg.connect(pg_url)
        await migrate(conn)
        await conn.close()
        bench = Bench(args, tmp, pg_url)
        for name in args.configs:
            try:
                result = await bench.run_one(TOPOLOGIES[name])
            except Exception as exc:  # one broken configuration still leaves the others' figures
                _say(f"{name} failed: {exc!r}")
                result = {"config": name, "error": repr(exc)}
            out["configs"].append(result)
            print(orjson.dumps(result).decode(), flush=True)
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rates = {r["config"]: r["accepted_per_s"] for r in out["configs"] if "accepted_per_s" in r}
    out["ratios"] = {f"({k})/(a)": round(rates[k] / rates["a"], 2) for k in ("b", "c")
                     if k in rates and rates.get("a")}
    out["load_average_at_end"] = load_average()
    out["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help=f"measured closed loop per configuration (<= {MAX_SECONDS:g})")
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--configs", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument("--volunteers", type=int, default=6000, help="roster size (every event has all of them)")
    parser.add_argument("--kiosks", type=int, default=192, help="kiosks in all, split over the events")
    parser.add_argument("--out", type=Path, default=RESULTS / "cluster.json")
    parser.add_argument("--log-dir", help="keep the processes' logs in this folder")
    args = parser.parse_args(argv)
    args.configs = [c for c in args.configs.split(",") if c]
    if set(args.configs) - set(TOPOLOGIES):
        parser.error("configs are a, b and c")
    if not 0 < args.seconds <= MAX_SECONDS or not 0 < args.warmup_seconds <= MAX_SECONDS:
        parser.error(f"seconds must be in (0, {MAX_SECONDS:g}]")
    try:
        import uvloop

        results = uvloop.run(run(args))
    except ImportError:
        results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(table(results))
    print(f"load average at the end: {results['load_average_at_end']}; written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
