"""20,000 scans through a recorder process that is SIGKILLed twice, with Postgres restarted once:
afterwards every scan is in Postgres exactly once, every session is whole, every device durable.

With the embedded test server Postgres is really restarted (its own pg_ctl, fast mode). With an
external CHECKIN_TEST_POSTGRES_URL the test cannot restart the server, so it does the closest
thing it may: it terminates every backend of the test database (pg_terminate_backend), which the
recorder sees exactly as it sees a restart: its connection dropped mid-batch.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from checkin.config import Config
from checkin.keys import EventKeys, Keys
from checkin.servers import EmbeddedPostgres, free_port
from checkin.streams import RECORDER_GROUP, ScanEntry, encode_entry
from tests.integration.test_recorder import wait_for

DEVICES = 50
PER_DEVICE = 400  # 20,000 scans: 10,000 check-in/check-out pairs
T0 = datetime(2024, 2, 24, 9, tzinfo=UTC)


def make_scans(event_id: str) -> tuple[list[ScanEntry], list[tuple[ScanEntry, ScanEntry]]]:
    """Pairs in stream order; every tenth pair arrives check-out first (a journal replay)."""
    seqs = [0] * DEVICES
    stream: list[ScanEntry] = []
    pairs: list[tuple[ScanEntry, ScanEntry]] = []

    def one(dev: int, verdict: str, vol: str, minutes: int, closes: uuid.UUID | None) -> ScanEntry:
        seqs[dev] += 1
        at = T0 + timedelta(minutes=minutes)
        return ScanEntry(stream_id="", event_id=event_id, scan_id=uuid.uuid4(), device_id=f"{event_id}-d{dev:02d}",
                         seq=seqs[dev], gate_id=f"G{dev % 4}", zone="main", card_id=f"C{vol}", volunteer_id=vol,
                         team="T", at=at, device_at=None, received_at=at, verdict=verdict, reason=None,
                         warnings=[], closes=closes, source="device", senior=False)

    for i in range(DEVICES * PER_DEVICE // 2):
        dev = i % DEVICES
        vol = f"V{i:05d}"
        check_in = one(dev, "checked_in", vol, i % 600, None)
        check_out = one(dev, "checked_out", vol, i % 600 + 45, check_in.scan_id)
        pairs.append((check_in, check_out))
        stream.extend([check_out, check_in] if i % 10 == 0 else [check_in, check_out])
    return stream, pairs


_OWN = secrets.token_hex(3)


@pytest.fixture
def test_config(test_config: Config) -> Config:
    # A key prefix of this module's own: other tests' unread streams are not in its recorders' way.
    return replace(test_config, redis_prefix=f"{test_config.redis_prefix}:rec{_OWN}")


@pytest.fixture
def keys(test_config: Config) -> Keys:
    return Keys(test_config.redis_prefix)


class ConsumerProcess:
    """`python -m checkin consumer` as its own process, as in production."""

    def __init__(self, config: Config, log_dir: Path, metrics_port: int) -> None:
        self.env = {**os.environ, "CHECKIN_POSTGRES_URL": config.postgres_url or "",
                    "CHECKIN_REDIS_URL": config.redis_url or "", "CHECKIN_REDIS_PREFIX": config.redis_prefix,
                    "CHECKIN_DATA_DIR": str(log_dir), "CHECKIN_RECORDER_BATCH": "500",
                    "CHECKIN_RECORDER_CLAIM_IDLE_MS": "500", "CHECKIN_RECORDER_BLOCK_MS": "100",
                    "CHECKIN_LOG_LEVEL": "INFO"}
        self.log_dir = log_dir
        self.metrics_port = metrics_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self, name: str) -> None:
        self.runs += 1
        log = (self.log_dir / f"consumer-{self.runs}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "checkin", "consumer", "--name", name, "--metrics-port", str(self.metrics_port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, "the consumer died on its own"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("consumer-*.log")))


async def restart_postgres(pool: asyncpg.Pool, embedded: bool) -> str:
    if embedded:
        data_dir = await pool.fetchval("SHOW data_directory")
        # as root, the embedded server runs as the user owning its data folder; pg_ctl must too
        owner = os.stat(data_dir).st_uid
        await asyncio.to_thread(subprocess.run, [EmbeddedPostgres._bin("pg_ctl"), "-D", data_dir, "-m", "fast",
                                                 "-w", "-t", "60", "-l", f"{data_dir}/restart.log", "restart"],
                                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                user=owner if os.geteuid() == 0 else None)
        how = "restarted"
    else:
        await pool.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        how = "backends terminated"
    await pool.expire_connections()
    return how


async def count_stored(pool: asyncpg.Pool, event_id: str) -> int:
    for _ in range(100):  # the pool's own connections die with the restart too
        try:
            return int(await pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", event_id))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await pool.expire_connections()
            await asyncio.sleep(0.1)
    raise AssertionError("Postgres did not come back")


@pytest.mark.timeout(300)
async def test_every_scan_once_through_kills_and_a_postgres_restart(
        test_config: Config, redis_client: aioredis.Redis, pg_pool: asyncpg.Pool, keys: Keys,
        tmp_path: Path) -> None:
    event_id = f"crash-{secrets.token_hex(3)}"
    ev: EventKeys = keys.event(event_id)
    stream, pairs = make_scans(event_id)
    await redis_client.sadd(keys.events, event_id)
    await redis_client.xgroup_create(ev.stream, RECORDER_GROUP, id="0", mkstream=True)
    consumer = ConsumerProcess(test_config, tmp_path, free_port())

    async def push() -> None:  # the gates keep scanning throughout
        for lo in range(0, len(stream), 500):
            async with redis_client.pipeline(transaction=False) as pipe:
                for entry in stream[lo:lo + 500]:
                    pipe.xadd(ev.stream, encode_entry(entry))
                await pipe.execute()
            await asyncio.sleep(0.02)

    pusher = asyncio.create_task(push())
    try:
        consumer.start("crash-a")
        await wait_for(lambda: _at_least(pg_pool, event_id, 3000), timeout=120)
        consumer.kill()  # 1: restarted under the same name, it re-reads its own pending entries
        consumer.start("crash-a")
        await wait_for(lambda: _at_least(pg_pool, event_id, 8000), timeout=120)
        consumer.kill()  # 2: a new name; the dead one's pending entries are reclaimed after the idle time
        consumer.start("crash-b")
        await wait_for(lambda: _at_least(pg_pool, event_id, 12000), timeout=120)
        how = await restart_postgres(pg_pool, embedded=not os.environ.get("CHECKIN_TEST_POSTGRES_URL"))
        await pusher
        await wait_for(lambda: _at_least(pg_pool, event_id, len(stream)), timeout=180)

        async def drained() -> bool:
            return (await redis_client.xpending(ev.stream, RECORDER_GROUP))["pending"] == 0

        await wait_for(drained, timeout=60)
        metrics = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{consumer.metrics_port}/metrics", timeout=10).read())
        assert b"checkin_recorder_rows_total" in metrics
        assert consumer.terminate() == 0  # SIGTERM: a clean exit
    finally:
        pusher.cancel()
        if consumer.proc is not None and consumer.proc.poll() is None:
            consumer.proc.kill()
        await redis_client.srem(keys.events, event_id)

    # exactly once: every scan id present, and no more rows than scans
    ids = [e.scan_id for e in stream]
    assert await pg_pool.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", event_id) == len(stream)
    assert await pg_pool.fetchval("SELECT count(*) FROM scans WHERE scan_id = any($1::uuid[])", ids) == len(stream)
    # every session whole and right, whichever half arrived first
    rows = {r["checkin_scan_id"]: r for r in await pg_pool.fetch(
        "SELECT * FROM sessions WHERE event_id = $1", event_id)}
    assert len(rows) == len(pairs)
    for check_in, check_out in pairs:
        row = rows[check_in.scan_id]
        assert (row["volunteer_id"], row["in_at"], row["gate_in"], row["checkout_scan_id"], row["out_at"],
                row["gate_out"]) == (check_in.volunteer_id, check_in.at, check_in.gate_id, check_out.scan_id,
                                     check_out.at, check_out.gate_id)
    # every device durable to its last seq, in Postgres and mirrored in Redis
    marks = await pg_pool.fetch("SELECT device_id, durable_seq FROM device_watermarks WHERE device_id LIKE $1",
                                f"{event_id}-%")
    assert sorted(r["durable_seq"] for r in marks) == [PER_DEVICE] * DEVICES
    mirrored = await redis_client.hgetall(ev.durable)
    assert {int(v) for v in mirrored.values()} == {PER_DEVICE} and len(mirrored) == DEVICES
    assert await redis_client.xlen(ev.dead_letters) == 0  # nothing good was parked on the way
    assert consumer.runs == 3
    print(f"postgres {how}; consumer logs:\n" + "\n".join(
        line for line in consumer.logs().splitlines() if "Postgres" in line or "recorder" in line))


async def _at_least(pool: asyncpg.Pool, event_id: str, n: int) -> bool:
    return await count_stored(pool, event_id) >= n



@pytest.mark.timeout(120)
async def test_sigterm_commits_what_was_read_and_leaves_nothing_pending(
        test_config: Config, redis_client: aioredis.Redis, pg_pool: asyncpg.Pool, keys: Keys,
        tmp_path: Path) -> None:
    event_id = f"term-{secrets.token_hex(3)}"
    ev = keys.event(event_id)
    stream, _ = make_scans(event_id)
    await redis_client.sadd(keys.events, event_id)
    await redis_client.xgroup_create(ev.stream, RECORDER_GROUP, id="0", mkstream=True)
    for lo in range(0, len(stream), 1000):
        async with redis_client.pipeline(transaction=False) as pipe:
            for entry in stream[lo:lo + 1000]:
                pipe.xadd(ev.stream, encode_entry(entry))
            await pipe.execute()
    consumer = ConsumerProcess(test_config, tmp_path, free_port())
    try:
        consumer.start("term-a")
        await wait_for(lambda: _at_least(pg_pool, event_id, 2000), timeout=60)
        assert consumer.terminate() == 0
    finally:
        if consumer.proc is not None and consumer.proc.poll() is None:
            consumer.proc.kill()
        await redis_client.srem(keys.events, event_id)
    # whatever it had read when the signal came was committed and acknowledged before it exited
    consumers = {c["name"]: c["pending"] for c in await redis_client.xinfo_consumers(ev.stream, RECORDER_GROUP)}
    assert consumers == {b"term-a": 0} or consumers == {"term-a": 0}
    group = (await redis_client.xinfo_groups(ev.stream))[0]
    delivered = len(await redis_client.xrange(ev.stream, max=group["last-delivered-id"]))
    stored_rows = await count_stored(pg_pool, event_id)
    # (the recorder keeps the last 60 s of a stream untrimmed, so every delivered entry is still there)
    assert stored_rows == delivered > 0
