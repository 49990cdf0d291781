"""The recorder against real Redis and Postgres: poison entries, redelivery, reclaim, sessions,
watermarks and trimming."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import redis.asyncio as aioredis

from checkin.cli.dlq import dlq_list, dlq_retry
from checkin.config import Config
from checkin.consumers.recorder import Recorder, make_recorder
from checkin.consumers.scan_writer import entry_lines, prepare, write_batch
from checkin.keys import EventKeys, Keys
from checkin.streams import RECORDER_GROUP, ScanEntry, encode_entry

T0 = datetime(2024, 2, 24, 9, tzinfo=UTC)


async def wait_for(probe: Callable[[], object], timeout: float = 20.0) -> object:
    """Poll until the probe is truthy; the timeout only stops a hung test, it asserts no speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def scan(event_id: str, device: str, seq: int, verdict: str = "checked_in", *, closes: uuid.UUID | None = None,
         vol: str = "V1", minutes: int = 0, gate: str = "G1") -> ScanEntry:
    at = T0 + timedelta(minutes=minutes)
    return ScanEntry(stream_id="", event_id=event_id, scan_id=uuid.uuid4(), device_id=device, seq=seq, gate_id=gate,
                     zone="main", card_id="C1", volunteer_id=vol, team="T", at=at, device_at=None, received_at=at,
                     verdict=verdict, reason=None, warnings=[], closes=closes, source="device", senior=False)


_OWN = secrets.token_hex(3)


@pytest.fixture
def test_config(test_config: Config) -> Config:
    # A key prefix of this module's own: other tests' unread streams are not in its recorders' way.
    return replace(test_config, redis_prefix=f"{test_config.redis_prefix}:rec{_OWN}")


@pytest.fixture
def keys(test_config: Config) -> Keys:
    return Keys(test_config.redis_prefix)


@pytest.fixture
async def event(redis_client: aioredis.Redis, keys: Keys) -> AsyncIterator[EventKeys]:
    """An event stream of its own, known to the recorder; forgotten afterwards."""
    event_id = f"rec-{secrets.token_hex(3)}"
    await redis_client.sadd(keys.events, event_id)
    yield keys.event(event_id)
    await redis_client.srem(keys.events, event_id)


@pytest.fixture
def config(test_config: Config) -> Config:
    return replace(test_config, recorder_claim_idle_ms=100, recorder_max_deliveries=3, recorder_batch=50)


@contextlib.asynccontextmanager
async def running(config: Config, redis: aioredis.Redis, name: str) -> AsyncIterator[Recorder]:
    rec = make_recorder(config, redis, name, trim_keep_ms=0, maintain_every_s=0.1)
    task = asyncio.create_task(rec.run())
    try:
        yield rec
    finally:
        rec.stop()
        await asyncio.wait_for(task, 10)


async def add(redis: aioredis.Redis, ev: EventKeys, *entries: ScanEntry) -> list[bytes]:
    return [await redis.xadd(ev.stream, encode_entry(e)) for e in entries]


async def stored(pool: asyncpg.Pool, entry: ScanEntry) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM scans WHERE scan_id = $1", entry.scan_id))


async def test_poison_entries_go_to_the_dead_letter_stream_and_the_next_good_one_is_stored(
        config: Config, redis_client: aioredis.Redis, pg_pool: asyncpg.Pool, event: EventKeys) -> None:
    dev = f"{event.event_id}-d"
    first, refused, after = scan(event.event_id, dev, 1), scan(event.event_id, dev, 3), scan(event.event_id, dev, 4)
    await add(redis_client, event, first)
    unparseable = await redis_client.xadd(event.stream, {b"scan_id": b"not-a-uuid", b"verdict": b"checked_in"})
    # parses, but Postgres refuses it (a NUL byte in text): the batch is split until it stands alone
    bad = {**encode_entry(refused), b"gate": b"G\x001"}
    refused_id = await redis_client.xadd(event.stream, bad)
    await add(redis_client, event, after)
    async with running(config, redis_client, "poison") as rec:
        await wait_for(lambda: stored(pg_pool, after))
        await wait_for(lambda: redis_client.xlen(event.dead_letters))
        await wait_for(lambda: rec.stats.dead_letters == 2)
    assert await stored(pg_pool, first)
    assert not await stored(pg_pool, refused)
    letters = {f[b"_id"]: f for _, f in await redis_client.xrange(event.dead_letters)}
    assert set(letters) == {unparseable, refused_id}
    assert b"scan_id" in letters[unparseable][b"_error"] or b"KeyError" in letters[unparseable][b"_error"]
    assert letters[refused_id][b"_error"].startswith(b"postgres refused")
    assert letters[refused_id][b"gate"] == b"G\x001"
    assert (await redis_client.xpending(event.stream, RECORDER_GROUP))["pending"] == 0
    # the refused seq 3 is a hole: the device is durable up to 1 only, in Postgres and in Redis
    assert await pg_pool.fetchval("SELECT durable_seq FROM device_watermarks WHERE device_id = $1", dev) == 1
    assert await redis_client.hget(event.durable, dev) == b"1"
    assert rec.metrics.registry.get_sample_value("checkin_recorder_dead_letters_total") == 2


async def test_entry_delivered_too_often_is_dead_lettered(config: Config, redis_client: aioredis.Redis,
                                                         pg_pool: asyncpg.Pool, event: EventKeys) -> None:
    dev = f"{event.event_id}-d"
    doomed, fine = scan(event.event_id, dev, 1), scan(event.event_id, dev, 2)
    await redis_client.xgroup_create(event.stream, RECORDER_GROUP, id="0", mkstream=True)
    [doomed_id] = await add(redis_client, event, doomed)
    await redis_client.xreadgroup(RECORDER_GROUP, "crashy", {event.stream: ">"}, count=1)
    # as if three consumers in a row had died holding it
    await redis_client.xclaim(event.stream, RECORDER_GROUP, "crashy", 0, [doomed_id], retrycount=3)
    await add(redis_client, event, fine)
    async with running(config, redis_client, "limit"):
        await wait_for(lambda: stored(pg_pool, fine))
        await wait_for(lambda: redis_client.xlen(event.dead_letters))
    [(_, letter)] = await redis_client.xrange(event.dead_letters)
    assert letter[b"_id"] == doomed_id
    assert letter[b"_error"].startswith(b"delivered 4 times")
    assert not await stored(pg_pool, doomed)
    assert (await redis_client.xpending(event.stream, RECORDER_GROUP))["pending"] == 0


async def test_entries_of_a_dead_consumer_are_reclaimed(config: Config, redis_client: aioredis.Redis,
                                                        pg_pool: asyncpg.Pool, event: EventKeys) -> None:
    dev = f"{event.event_id}-d"
    entries = [scan(event.event_id, dev, i + 1, vol=f"V{i}") for i in range(5)]
    await redis_client.xgroup_create(event.stream, RECORDER_GROUP, id="0", mkstream=True)
    await add(redis_client, event, *entries)
    reply = await redis_client.xreadgroup(RECORDER_GROUP, "dead-one", {event.stream: ">"}, count=10)
    assert len(reply[0][1]) == 5  # read, never acknowledged: its process died
    async with running(config, redis_client, "survivor") as rec:
        await wait_for(lambda: pg_pool.fetchval(
            "SELECT count(*) = 5 FROM scans WHERE scan_id = any($1::uuid[])", [e.scan_id for e in entries]))
        await wait_for(lambda: rec.stats.reclaimed >= 5)
    assert (await redis_client.xpending(event.stream, RECORDER_GROUP))["pending"] == 0
    assert await pg_pool.fetchval("SELECT durable_seq FROM device_watermarks WHERE device_id = $1", dev) == 5


async def test_check_out_before_check_in_ends_the_same_session(config: Config, redis_client: aioredis.Redis,
                                                              pg_pool: asyncpg.Pool, event: EventKeys) -> None:
    dev = f"{event.event_id}-d"
    late_in = scan(event.event_id, dev, 1, vol="V7", gate="in")
    early_out = scan(event.event_id, dev, 2, "checked_out", closes=late_in.scan_id, vol="V7", minutes=90, gate="out")
    together_in = scan(event.event_id, dev, 3, vol="V8", gate="in")
    together_out = scan(event.event_id, dev, 4, "checked_out", closes=together_in.scan_id, vol="V8", minutes=30,
                        gate="out")
    rec = make_recorder(config, redis_client, "order")
    await rec.reader.streams()  # creates the group before anything is added
    await add(redis_client, event, early_out)
    assert await rec.run_once(block_ms=1000) == 1
    half = await pg_pool.fetchrow("SELECT * FROM sessions WHERE checkin_scan_id = $1", late_in.scan_id)
    assert half["in_at"] is None and half["out_at"] == early_out.at
    await add(redis_client, event, late_in, together_in, together_out)
    while await rec.run_once(block_ms=100):
        pass
    for check_in, check_out in ((late_in, early_out), (together_in, together_out)):
        row = await pg_pool.fetchrow("SELECT * FROM sessions WHERE checkin_scan_id = $1", check_in.scan_id)
        assert (row["in_at"], row["gate_in"], row["out_at"], row["gate_out"], row["checkout_scan_id"]) == (
            check_in.at, "in", check_out.at, "out", check_out.scan_id)
    await rec.aclose()
    # replaying both halves changes nothing
    async with pg_pool.acquire() as conn:
        await prepare(conn)
        await write_batch(conn, entry_lines([early_out, late_in]))
    row = await pg_pool.fetchrow("SELECT * FROM sessions WHERE checkin_scan_id = $1", late_in.scan_id)
    assert row["out_at"] == early_out.at and row["in_at"] == late_in.at


async def test_watermark_stops_at_a_gap_and_moves_when_it_is_filled(
        config: Config, redis_client: aioredis.Redis, pg_pool: asyncpg.Pool, event: EventKeys) -> None:
    dev = f"{event.event_id}-d"
    by_seq = {s: scan(event.event_id, dev, s, vol=f"V{s}") for s in range(1, 8)}
    rec = make_recorder(config, redis_client, "gaps")
    await rec.reader.streams()
    await add(redis_client, event, *(by_seq[s] for s in (2, 1, 3, 5, 6)))
    while await rec.run_once(block_ms=100):
        pass

    async def durable() -> tuple[int, bytes | None]:
        pg = await pg_pool.fetchval("SELECT durable_seq FROM device_watermarks WHERE device_id = $1", dev)
        return pg, await redis_client.hget(event.durable, dev)

    assert await durable() == (3, b"3")
    await add(redis_client, event, by_seq[4])
    while await rec.run_once(block_ms=100):
        pass
    assert await durable() == (6, b"6")
    await add(redis_client, event, by_seq[7])
    await rec.run_once(block_ms=1000)
    await rec.aclose()
    assert await durable() == (7, b"7")


async def test_two_writers_on_one_device_and_one_session_end_consistent(pg_url: str, pg_pool: asyncpg.Pool) -> None:
    """Two consumers committing interleaved halves of a device's run, and both halves of each
    session, at the same time: every session is whole and the watermark covers the whole run."""
    event_id, dev = "two-writers", f"two-{secrets.token_hex(3)}"
    ins = [scan(event_id, dev, 2 * i + 1, vol=f"V{i}") for i in range(200)]
    outs = [scan(event_id, dev, 2 * i + 2, "checked_out", closes=ins[i].scan_id, vol=f"V{i}", minutes=60)
            for i in range(200)]
    conns = [await asyncpg.connect(pg_url) for _ in range(2)]
    try:
        for conn in conns:
            await prepare(conn)
        for lo in range(0, 200, 20):  # batches of 20 pairs: check-ins on one writer, check-outs on the other
            await asyncio.gather(write_batch(conns[0], entry_lines(ins[lo:lo + 20])),
                                 write_batch(conns[1], entry_lines(outs[lo:lo + 20])))
    finally:
        for conn in conns:
            await conn.close()
    rows = await pg_pool.fetch("SELECT * FROM sessions WHERE checkin_scan_id = any($1::uuid[])",
                               [s.scan_id for s in ins])
    assert len(rows) == 200
    assert all(r["in_at"] is not None and r["out_at"] is not None for r in rows)
    assert await pg_pool.fetchval("SELECT durable_seq FROM device_watermarks WHERE device_id = $1", dev) == 400


async def test_trimming_keeps_every_entry_some_group_has_not_acknowledged(
        config: Config, redis_client: aioredis.Redis, pg_pool: asyncpg.Pool, event: EventKeys) -> None:
    dev = f"{event.event_id}-d"
    await redis_client.xgroup_create(event.stream, RECORDER_GROUP, id="0", mkstream=True)
    await redis_client.xgroup_create(event.stream, "audit", id="0")
    ids = await add(redis_client, event, *(scan(event.event_id, dev, i + 1, vol=f"V{i}") for i in range(1000)))
    # another group has read 600 and acknowledged only the first 500
    await redis_client.xreadgroup("audit", "a1", {event.stream: ">"}, count=600)
    await redis_client.xack(event.stream, "audit", *ids[:500])
    async with running(config, redis_client, "trimmer") as rec:
        await wait_for(lambda: pg_pool.fetchval(
            "SELECT durable_seq = 1000 FROM device_watermarks WHERE device_id = $1", dev))

        async def trimmed() -> bool:
            return int(await redis_client.xlen(event.stream)) < 1000

        await wait_for(trimmed)
        await rec.reader.maintain(await rec.reader.streams())
    remaining = [i for i, _ in await redis_client.xrange(event.stream)]
    assert len(remaining) < 1000  # something was trimmed ...
    assert remaining[-500:] == ids[500:]  # ... but nothing the audit group still holds or has not read
    assert set(remaining) >= set(ids[500:])



async def test_dlq_retry_puts_a_parked_entry_back_and_it_is_stored(
        config: Config, redis_client: aioredis.Redis, pg_pool: asyncpg.Pool, event: EventKeys, keys: Keys,
        capsys: pytest.CaptureFixture[str]) -> None:
    dev = f"{event.event_id}-d"
    parked = scan(event.event_id, dev, 1)
    await redis_client.xgroup_create(event.stream, RECORDER_GROUP, id="0", mkstream=True)
    [parked_id] = await add(redis_client, event, parked)
    await redis_client.xreadgroup(RECORDER_GROUP, "crashy", {event.stream: ">"}, count=1)
    await redis_client.xclaim(event.stream, RECORDER_GROUP, "crashy", 0, [parked_id], retrycount=3)
    async with running(config, redis_client, "dlq"):
        await wait_for(lambda: redis_client.xlen(event.dead_letters))
    assert not await stored(pg_pool, parked)

    args = argparse.Namespace(event=event.event_id, limit=10)
    async with pg_pool.acquire() as conn:
        assert await dlq_list(config, args, conn, redis_client, keys) == 0
        [listed] = json.loads(capsys.readouterr().out)
        assert listed["_id"] == parked_id.decode() and listed["_error"].startswith("delivered")
        args = argparse.Namespace(event=event.event_id, ids=[listed["dlq_id"]], all=False)
        assert await dlq_retry(config, args, conn, redis_client, keys) == 0
    assert await redis_client.xlen(event.dead_letters) == 0
    async with running(config, redis_client, "dlq"):
        await wait_for(lambda: stored(pg_pool, parked))
    assert await pg_pool.fetchval("SELECT durable_seq FROM device_watermarks WHERE device_id = $1", dev) == 1


async def test_two_writers_committing_halves_of_device_runs_leave_them_whole(
        pg_url: str, pg_pool: asyncpg.Pool) -> None:
    """Nothing else makes these transactions wait for each other (no shared sessions): only the
    watermark row lock makes the later one see the earlier one's half."""
    conns = [await asyncpg.connect(pg_url) for _ in range(2)]
    devices: list[str] = []
    try:
        for conn in conns:
            await prepare(conn)
        for _ in range(5):
            tag = secrets.token_hex(3)
            round_devices = [f"half-{tag}-{d}" for d in range(20)]
            devices += round_devices
            # known devices: creating their rows would itself make the second writer wait
            await pg_pool.execute("INSERT INTO device_watermarks (device_id) SELECT unnest($1::text[])", round_devices)
            first = [scan("halves", d, s, vol=f"V{s}") for d in round_devices for s in range(1, 51)]
            second = [scan("halves", d, s, vol=f"V{s}") for d in round_devices for s in range(51, 101)]
            await asyncio.gather(write_batch(conns[0], entry_lines(first)), write_batch(conns[1], entry_lines(second)))
    finally:
        for conn in conns:
            await conn.close()
    marks = await pg_pool.fetch("SELECT durable_seq FROM device_watermarks WHERE device_id = any($1::text[])",
                                devices)
    assert sorted(r["durable_seq"] for r in marks) == [100] * len(devices)
