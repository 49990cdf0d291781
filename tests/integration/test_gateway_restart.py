"""Kill the gateway process (SIGKILL) in the middle of a stream of scans, start it again, let the client retry
what was not acknowledged with the same scan_id: Postgres ends with every scan exactly once, and no retry was
judged a second time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis

from checkin.config import Config
from checkin.keys import Keys
from checkin.servers import free_port
from loadtest.event_factory import make_event

SCANS = 120
KILL_AFTER = 40
WORKERS = 6
ROOT = Path(__file__).resolve().parents[2]


class GatewayProcess:
    def __init__(self, config: Config, port: int, log: Path) -> None:
        self.env = {**os.environ, "CHECKIN_POSTGRES_URL": config.postgres_url or "",
                    "CHECKIN_REDIS_URL": config.redis_url or "", "CHECKIN_REDIS_PREFIX": config.redis_prefix,
                    "CHECKIN_DATA_DIR": str(config.data_dir), "CHECKIN_HOST": "127.0.0.1",
                    "CHECKIN_GATEWAY_PORT": str(port), "CHECKIN_LOG_LEVEL": "WARNING",
                    "CHECKIN_DEVICE_SCANS_PER_S": str(config.device_scans_per_s)}
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "checkin", "gateway", "--single"], cwd=ROOT,
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc and self.proc.poll() is None, self.log.read_text()
            try:
                async with session.get(self.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError("the gateway did not start: " + self.log.read_text())


@pytest.fixture
def gateway_process(test_config: Config, tmp_path: Path) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(test_config, free_port(), tmp_path / "gateway.log")
    yield gw
    gw.kill()


async def test_restart_mid_stream_loses_and_duplicates_nothing(
        gateway_process: GatewayProcess, recorder, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,  # type: ignore[no-untyped-def]
        keys: Keys) -> None:
    async with pg_pool.acquire() as conn:
        scenario = await make_event(conn, redis_client, keys, volunteers=SCANS)
    gate = f"{scenario.event_id}-desk"
    scans = [scenario.scan(card, gate) for _, card in scenario.cards]  # one per volunteer: all check-ins
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    acked: dict[str, dict] = {}
    unacked: list[dict] = []
    killed = asyncio.Event()

    async def send(session: aiohttp.ClientSession, scan: dict) -> bool:
        try:
            async with session.post(gateway_process.url + "/api/v1/scans", json=scan, headers=auth) as resp:
                if resp.status != 200:
                    return False
                answer = await resp.json()
        except (TimeoutError, aiohttp.ClientError):
            return False
        assert scan["scan_id"] not in acked
        acked[scan["scan_id"]] = answer
        if len(acked) >= KILL_AFTER and not killed.is_set():
            killed.set()
            gateway_process.kill()  # mid-stream: other workers have requests in flight
        return True

    queue: asyncio.Queue[dict] = asyncio.Queue()
    for scan in scans:
        queue.put_nowait(scan)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            scan = queue.get_nowait()
            if not await send(session, scan):
                unacked.append(scan)

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        gateway_process.start()
        await gateway_process.ready(session)
        await asyncio.gather(*(worker(session) for _ in range(WORKERS)))
        assert killed.is_set() and unacked, "the kill should leave scans unacknowledged"
        assert KILL_AFTER <= len(acked) < SCANS

        gateway_process.start()
        await gateway_process.ready(session)
        for scan in unacked:  # the kiosk's journal: same scan_id, same body, until acknowledged
            for _ in range(20):
                if await send(session, scan):
                    break
                await asyncio.sleep(0.1)
    assert set(acked) == {s["scan_id"] for s in scans}
    assert {a["verdict"] for a in acked.values()} == {"checked_in"}  # a retry is answered, not judged again

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id)
        if stored >= SCANS:
            break
        await asyncio.sleep(0.1)
    rows = await pg_pool.fetch("SELECT scan_id::text, verdict FROM scans WHERE event_id = $1", scenario.event_id)
    assert sorted(r["scan_id"] for r in rows) == sorted(acked)  # each acknowledged scan exactly once
    assert {r["verdict"] for r in rows} == {"checked_in"}
    ev = keys.event(scenario.event_id)
    assert await redis_client.xlen(ev.stream) <= SCANS  # the script appended each scan once
    assert int(await redis_client.hget(ev.counts, "on_site")) == SCANS
