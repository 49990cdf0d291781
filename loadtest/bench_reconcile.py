"""Benchmark: derive service hours for ~1,000,000 synthetic scans (~100,000 volunteers) in memory.

    .venv/bin/python loadtest/bench_reconcile.py [--scans 1000000] [--seed 7]
    .venv/bin/python loadtest/bench_reconcile.py --postgres postgresql://postgres@127.0.0.1:5432/postgres

Prints scans/s and total seconds for derive_hours alone (the synthetic log is built first, untimed).
With --postgres it also loads the log into a scratch database of its own (dropped afterwards) and times
reconcile_event end to end (batched cursor, grouping, derivation), then the log's streaming alone, so the
two shares can be told apart. The machine's load average is printed with each figure: timings on a shared
machine are only comparable at a similar load.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import secrets
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from checkin.db import migrate
from checkin.hours.derive import derive_hours
from checkin.hours.model import HoursPolicy, LogScan, Shift
from checkin.reconcile.store import load_event_log, load_policy, reconcile_event

TZ = ZoneInfo("Asia/Taipei")


def synthetic_log(total: int, seed: int) -> list[tuple[list[LogScan], list[Shift]]]:
    """About 10 scans a volunteer: 4 days of in/out, double scans, the odd forgotten check-out."""
    rnd = random.Random(seed)
    first_day = datetime(2024, 2, 24, tzinfo=TZ)
    log: list[tuple[list[LogScan], list[Shift]]] = []
    made = 0
    while made < total:
        vid = f"V{len(log):06d}"
        scans: list[LogScan] = []
        shifts: list[Shift] = []
        for day in range(4):
            begin = first_day + timedelta(days=day, hours=rnd.randint(8, 14))
            shifts.append(Shift(f"S{day}-{begin.hour}", "Z1", begin, begin + timedelta(hours=6)))
            arrive = begin + timedelta(minutes=rnd.randint(-20, 20))
            stamps = [(arrive, "checked_in"), (arrive + timedelta(minutes=rnd.randint(60, 420)), "checked_out")]
            if rnd.random() < 0.1:
                stamps.pop()  # forgot to check out
            if rnd.random() < 0.5:
                stamps.append((arrive + timedelta(seconds=rnd.randint(1, 50)), "duplicate"))
            for at, verdict in stamps:
                scans.append(LogScan(str(uuid.UUID(int=rnd.getrandbits(128))), vid, at, verdict, "G1", "Z1"))
        rnd.shuffle(scans)  # arrival order is not time order
        made += len(scans)
        log.append((scans, shifts))
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", help="a server URL; the benchmark makes and drops a scratch database on it")
    args = parser.parse_args()
    built = time.perf_counter()
    log = synthetic_log(args.scans, args.seed)
    scans = sum(len(s) for s, _ in log)
    print(f"built {scans:,} scans for {len(log):,} volunteers in {time.perf_counter() - built:.1f} s (untimed)")
    policy = HoursPolicy(daily_cap_minutes=480, break_minutes=30, break_after_hours=6)
    start = time.perf_counter()
    total_minutes = 0
    for volunteer_scans, shifts in log:
        total_minutes += derive_hours(volunteer_scans, shifts, policy).total_minutes
    seconds = time.perf_counter() - start
    print(f"derive_hours: {scans:,} scans in {seconds:.2f} s = {scans / seconds:,.0f} scans/s "
          f"({len(log) / seconds:,.0f} volunteers/s); {total_minutes / 60:,.0f} hours credited")

    if args.postgres:
        asyncio.run(through_postgres(args.postgres, log, policy))


async def through_postgres(url: str, log: list[tuple[list[LogScan], list[Shift]]], policy: HoursPolicy) -> None:
    name = f"reconcile_scratch_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(url.rsplit("/", 1)[0] + "/" + name)
        try:
            await load(conn, log, policy)
            start = time.perf_counter()
            results = await reconcile_event(conn, "bench", progress=False)
            seconds = time.perf_counter() - start
            scans = sum(len(s) for s, _ in log)
            print(f"reconcile_event (Postgres, batched cursor): {scans:,} scans, {len(results):,} volunteers in "
                  f"{seconds:.2f} s = {scans / seconds:,.0f} scans/s (load average {os.getloadavg()[0]:.1f})")
            del results
            zone = ZoneInfo((await load_policy(conn, "bench")).timezone)
            gc.disable()  # as reconcile_event does; this process also holds the whole synthetic log
            start = time.perf_counter()
            streamed = 0
            async for _ in load_event_log(conn, "bench", zone=zone):
                streamed += 1
            seconds = time.perf_counter() - start
            gc.enable()
            print(f"  of which streaming the log alone: {streamed:,} scans in {seconds:.2f} s "
                  f"(load average {os.getloadavg()[0]:.1f})")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def load(conn: asyncpg.Connection, log: list[tuple[list[LogScan], list[Shift]]], policy: HoursPolicy) -> None:
    started = time.perf_counter()
    await migrate(conn)
    await conn.execute("INSERT INTO events (event_id, name, starts_on, ends_on) VALUES ('bench', 'bench',"
                       " '2024-02-24', '2024-02-28')")
    await conn.execute("INSERT INTO zones VALUES ('bench', 'Z1', 'Z1')")
    await conn.execute("INSERT INTO gates (gate_id, event_id, zone_id, name) VALUES ('G1', 'bench', 'Z1', 'G1')")
    shifts = {sh.shift_id: sh for _, shs in log for sh in shs}
    await conn.copy_records_to_table("shifts", columns=["shift_id", "event_id", "zone_id", "name", "starts_at",
                                     "ends_at"], records=[(k, "bench", "Z1", k, v.starts_at, v.ends_at)
                                                          for k, v in shifts.items()])
    vids = [scans[0].volunteer_id for scans, _ in log]
    await conn.copy_records_to_table("volunteers", columns=["volunteer_id", "name"], records=[(v, v) for v in vids])
    await conn.copy_records_to_table("assignments", records=[
        ("bench", scans[0].volunteer_id, sh.shift_id) for scans, shs in log for sh in shs])
    await conn.copy_records_to_table(
        "scans", columns=["scan_id", "event_id", "device_id", "seq", "gate_id", "volunteer_id", "scanned_at",
                          "received_at", "verdict"],
        records=[(uuid.UUID(s.scan_id), "bench", "d", 0, s.gate_id, s.volunteer_id, s.at, s.at, s.verdict)
                 for scans, _ in log for s in scans])
    await conn.execute("ANALYZE")
    print(f"loaded into Postgres in {time.perf_counter() - started:.1f} s (untimed)")


if __name__ == "__main__":
    main()
