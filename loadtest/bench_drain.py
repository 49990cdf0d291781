"""Benchmark: how fast the recorder drains a backlog of scans from an event stream into Postgres.

    .venv/bin/python loadtest/bench_drain.py [--size 1000000] [--batch 1000] [--devices 200] [--writers 2] [--timeout 150]
        [--pg-set max_wal_size=4GB --pg-set checkpoint_timeout=30min ...]

Starts a scratch embedded Valkey and embedded PostgreSQL under /tmp (removed afterwards), fills one
event stream with --size entries in the scan script's format (pipelined XADD: check-ins and the
check-outs that close them, a few duplicates), then times one Recorder draining it. Prints rows/s
and where the time went: reading and parsing in Python versus each Postgres stage of a batch.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import hiredis

from checkin.config import Config
from checkin.consumers.recorder import make_recorder
from checkin.db import migrate
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.servers import EmbeddedPostgres, EmbeddedValkey, free_port
from checkin.streams import RECORDER_GROUP, ScanEntry, encode_entry

EVENT = "bench-drain"


def _command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def synthetic_entries(size: int, devices: int):  # type: ignore[no-untyped-def]
    """Pairs of check-in and check-out (the second closing the first), every 20th a duplicate."""
    start = datetime(2024, 2, 24, 9, tzinfo=UTC)
    seq = [0] * devices
    open_by_volunteer: dict[int, uuid.UUID] = {}
    for i in range(size):
        dev = i % devices
        seq[dev] += 1
        vol = (i // 2) % 50_000
        at = start + timedelta(milliseconds=i * 20)
        if i % 20 == 19:
            verdict, closes = "duplicate", None
        elif vol in open_by_volunteer:
            verdict, closes = "checked_out", open_by_volunteer.pop(vol)
        else:
            verdict, closes = "checked_in", None
        scan_id = uuid.uuid4()
        if verdict == "checked_in":
            open_by_volunteer[vol] = scan_id
        yield ScanEntry(
            stream_id="", event_id=EVENT, scan_id=scan_id, device_id=f"{EVENT}-dev{dev:03d}", seq=seq[dev],
            gate_id=f"{EVENT}-gate{dev % 10}", zone="main", card_id=f"C{vol:06d}", volunteer_id=f"V{vol:06d}",
            team="T1", at=at, device_at=None, received_at=at, verdict=verdict,
            reason="debounce" if verdict == "duplicate" else None, warnings=[], closes=closes, source="device",
            senior=vol % 5 == 0)


async def fill(host: str, port: int, stream: str, size: int, devices: int) -> float:
    """XADD the entries, 5,000 commands per round trip, with a bare RESP client (redis-py is ~8× slower)."""
    reader, writer = await asyncio.open_connection(host, port)
    parser = hiredis.Reader()
    began = time.perf_counter()
    key = stream.encode()
    chunk: list[bytes] = []

    async def flush() -> None:
        writer.write(b"".join(chunk))
        await writer.drain()
        want, got = len(chunk), 0
        while got < want:
            parser.feed(await reader.read(1 << 20))
            while (reply := parser.gets()) is not False:
                if isinstance(reply, hiredis.ReplyError):
                    raise RuntimeError(reply)
                got += 1
        chunk.clear()

    for entry in synthetic_entries(size, devices):
        fields = encode_entry(entry)
        chunk.append(_command(b"XADD", key, b"*", *[x for kv in fields.items() for x in kv]))
        if len(chunk) == 5000:
            await flush()
    if chunk:
        await flush()
    writer.close()
    return time.perf_counter() - began


async def bench(args: argparse.Namespace, pg_url: str, redis_url: str, redis_port: int) -> None:
    conn = await asyncpg.connect(pg_url)
    names = []
    for setting in args.pg_set:  # server settings to try (ALTER SYSTEM on the scratch server, then a reload)
        name, _, value = setting.partition("=")
        if not re.fullmatch(r"[a-z_]+", name) or not value:
            raise SystemExit(f"--pg-set takes name=value, got {setting!r}")
        quoted = value.replace("'", "''")
        await conn.execute(f"ALTER SYSTEM SET {name} = '{quoted}'")
        names.append(name)
    if names:
        before = [await conn.fetchval(f"SHOW {n}") for n in names]
        await conn.execute("SELECT pg_reload_conf()")
        for _ in range(50):  # the reload is a signal: wait until this session (and so new ones) sees it
            now = [await conn.fetchval(f"SHOW {n}") for n in names]
            if all(a != b for a, b in zip(now, before, strict=True)):
                break
            await asyncio.sleep(0.1)
        print("postgres settings: " + ", ".join(f"{n}={v}" for n, v in zip(names, now, strict=True)))
    await migrate(conn)
    keys = Keys("bench")
    redis = create_redis(redis_url)
    stream = keys.event(EVENT).stream
    await redis.sadd(keys.events, EVENT)
    await redis.xgroup_create(stream, RECORDER_GROUP, id="0", mkstream=True)
    fill_s = await fill("127.0.0.1", redis_port, stream, args.size, args.devices)
    print(f"filled {args.size:,} entries in {fill_s:.1f} s ({args.size / fill_s:,.0f} XADD/s)")

    config = Config(postgres_url=pg_url, redis_url=redis_url, redis_prefix="bench", recorder_batch=args.batch,
                    recorder_block_ms=100)
    recorder = make_recorder(config, redis, "bench-1", trim_keep_ms=0, maintain_every_s=1.0, writers=args.writers)
    began = time.perf_counter()
    task = asyncio.create_task(recorder.run())
    deadline = began + args.timeout
    while recorder.stats.rows < args.size and not task.done():
        if time.perf_counter() > deadline:
            print(f"timed out after {args.timeout:.0f} s")
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - began
    recorder.stop()
    await task
    stored = await conn.fetchval("SELECT count(*) FROM scans")
    sessions = await conn.fetchval("SELECT count(*) FROM sessions")
    rows = recorder.stats.rows
    print(f"drained {rows:,} entries in {elapsed:.1f} s: {rows / elapsed:,.0f} rows/s "
          f"(batch {args.batch}, {args.writers} writer(s), {recorder.stats.batches} batches; {stored:,} scans, {sessions:,} sessions)")
    stages = recorder.stats.stages
    in_pg = sum(v for k, v in stages.items() if k not in ("parse", "ack"))
    print("where the time went (seconds summed over batches; reading overlaps writing, writers overlap):")
    for stage, spent in stages.items():
        side = "python" if stage == "parse" else "redis " if stage == "ack" else "postgres"
        print(f"  {side} {stage:<11} {spent:7.2f} s  {spent / rows * 1e6:6.1f} µs/row")
    print(f"  postgres total     {in_pg:7.2f} s  {in_pg / rows * 1e6:6.1f} µs/row")
    print(f"stream length after drain and trim: {await redis.xlen(stream):,}")
    await redis.aclose()
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=Config().recorder_batch)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--writers", type=int, default=2, help="concurrent Postgres transactions")
    parser.add_argument("--timeout", type=float, default=150.0, help="stop draining after this many seconds")
    parser.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                        help="a PostgreSQL setting to try (reloadable ones only), repeatable")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="checkin-bench-drain-"))
    pg = EmbeddedPostgres(tmp, database="bench")
    port = free_port()
    vk = EmbeddedValkey(tmp, port)
    try:
        pg_url = pg.start()
        redis_url = vk.start(persist=False)
        try:
            import uvloop

            uvloop.run(bench(args, pg_url, redis_url, port))
        except ImportError:
            asyncio.run(bench(args, pg_url, redis_url, port))
    finally:
        vk.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
