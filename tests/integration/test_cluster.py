"""Beyond one machine: a three-master Valkey Cluster, two gateways, two recorders and two live servers.

A kiosk client alternates between the gateways; three events spread over the cluster's shards. At the
end every scan is in Postgres exactly once, and both live servers show the same, right headcounts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from websockets.asyncio.client import connect

from checkin.config import Config
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.servers import EmbeddedValkeyCluster, free_cluster_ports, free_port
from loadtest.event_factory import Scenario, make_event

ROOT = Path(__file__).resolve().parents[2]
VOLUNTEERS = 400  # per event; each checks in, some check out again: a few thousand scans in all


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cluster = EmbeddedValkeyCluster(tmp_path_factory.mktemp("cluster"), free_cluster_ports(3))
    url = cluster.start()
    yield url
    cluster.stop()


class Processes:
    def __init__(self, config: Config, cluster_url: str, log_dir: Path) -> None:
        self.env = {**os.environ, "CHECKIN_POSTGRES_URL": config.postgres_url or "", "CHECKIN_REDIS_URL": cluster_url,
                    "CHECKIN_REDIS_PREFIX": config.redis_prefix + "-cl", "CHECKIN_DATA_DIR": str(config.data_dir),
                    "CHECKIN_LOG_LEVEL": "WARNING", "CHECKIN_DEVICE_SCANS_PER_S": "0",
                    "CHECKIN_RECORDER_BLOCK_MS": "50"}
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.gateways: list[str] = []
        self.lives: list[str] = []

    def start(self, *args: str, **env: str) -> None:
        log = (self.log_dir / f"{'-'.join(args)}.log").open("ab")
        self.procs.append(subprocess.Popen([sys.executable, "-m", "checkin", *args], cwd=ROOT,
                                           env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT))

    def start_all(self) -> None:
        for i in range(2):
            port = free_port()
            self.start("gateway", "--single", "--name", f"gw{i}", CHECKIN_GATEWAY_PORT=str(port))
            self.gateways.append(f"http://127.0.0.1:{port}")
            self.start("consumer", "--name", f"recorder-{i}")
            live = free_port()
            self.start("live", CHECKIN_LIVE_PORT=str(live))
            self.lives.append(f"ws://127.0.0.1:{live}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in self.log_dir.glob("*.log"))


@pytest.fixture
async def system(test_config: Config, cluster_url: str, tmp_path: Path) -> AsyncIterator[tuple[Processes, list[Scenario]]]:
    keys = Keys(test_config.redis_prefix + "-cl")
    redis = create_redis(cluster_url)
    pool = await asyncpg.create_pool(test_config.postgres_url)
    assert pool is not None
    async with pool.acquire() as conn:
        scenarios = [await make_event(conn, redis, keys, volunteers=VOLUNTEERS) for _ in range(3)]
        # Event ids are random: make sure the three events do not all land on one shard.
        while len({redis.get_node_from_key(keys.event(sc.event_id).stream).name for sc in scenarios}) < 2:
            scenarios[-1] = await make_event(conn, redis, keys, volunteers=VOLUNTEERS)
    await redis.aclose()
    await pool.close()
    procs = Processes(test_config, cluster_url, tmp_path)
    procs.start_all()
    try:
        yield procs, scenarios
    finally:
        procs.stop()


async def _ready(session: aiohttp.ClientSession, url: str, procs: Processes) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with session.get(url + "/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("gateway not ready:\n" + procs.logs())


async def _headcount(live_url: str, sc: Scenario) -> dict[str, Any]:
    async with connect(f"{live_url}/ws/events/{sc.event_id}?token={sc.coordinator_token}") as ws:
        return orjson.loads(await asyncio.wait_for(ws.recv(), 10))


async def test_cluster_topology_stores_everything_once(system: tuple[Processes, list[Scenario]],
                                                       pg_pool: asyncpg.Pool) -> None:
    procs, scenarios = system
    async with aiohttp.ClientSession() as session:
        for url in procs.gateways:
            await _ready(session, url, procs)
        sent: dict[str, list[str]] = {sc.event_id: [] for sc in scenarios}
        expected_on_site: dict[str, int] = {}
        n = 0
        for sc in scenarios:
            gate = f"{sc.event_id}-desk"
            auth = {"Authorization": f"Bearer {sc.device_token}"}
            t0 = time.time() - 3600
            plan = [(card, t0 + i) for i, (_, card) in enumerate(sc.cards)]
            plan += [(card, t0 + 1800 + i) for i, (_, card) in enumerate(sc.cards[: VOLUNTEERS // 4])]
            for chunk_start in range(0, len(plan), 100):  # a journal replay of 100 at a time
                chunk = plan[chunk_start:chunk_start + 100]
                body = {"scans": [sc.scan(card, gate, _at(at)) for card, at in chunk]}
                url = procs.gateways[n % 2]  # the same kiosk, alternating between gateways
                n += 1
                async with session.post(url + "/api/v1/scans/batch", json=body, headers=auth) as resp:
                    assert resp.status == 200, await resp.text()
                    results = (await resp.json())["results"]
                assert all(r["verdict"] in ("checked_in", "checked_out") for r in results), results[:3]
                sent[sc.event_id] += [r["scan_id"] for r in results]
            expected_on_site[sc.event_id] = VOLUNTEERS - VOLUNTEERS // 4

    total = sum(len(v) for v in sent.values())
    deadline = time.monotonic() + 60
    while (stored := await pg_pool.fetchval(
            "SELECT count(*) FROM scans WHERE event_id = any($1::text[])", list(sent))) < total:
        assert time.monotonic() < deadline, f"{stored} of {total} stored\n{procs.logs()}"
        await asyncio.sleep(0.2)
    for event_id, ids in sent.items():
        rows = await pg_pool.fetch("SELECT scan_id::text FROM scans WHERE event_id = $1", event_id)
        assert sorted(r["scan_id"] for r in rows) == sorted(ids)  # each exactly once
    for sc in scenarios:
        first, second = [await _headcount(live, sc) for live in procs.lives]
        assert first["view"]["totals"]["on_site"] == expected_on_site[sc.event_id]
        # scans_per_minute is a rolling count: the two snapshots may straddle the edge of its window
        assert {k: v for k, v in second["view"]["totals"].items() if k != "scans_per_minute"} == \
            {k: v for k, v in first["view"]["totals"].items() if k != "scans_per_minute"}


def _at(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)
