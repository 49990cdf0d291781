"""Benchmark: derive service hours for ~1,000,000 synthetic scans (~100,000 volunteers) in memory.

    .venv/bin/python loadtest/bench_reconcile.py [--scans 1000000] [--seed 7]

Prints scans/s and total seconds for derive_hours alone (the synthetic log is built first, untimed).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from checkin.hours import HoursPolicy, LogScan, Shift, derive_hours

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
            shifts.append(Shift(f"{vid}-{day}", "Z1", begin, begin + timedelta(hours=6)))
            arrive = begin + timedelta(minutes=rnd.randint(-20, 20))
            stamps = [(arrive, "checked_in"), (arrive + timedelta(minutes=rnd.randint(60, 420)), "checked_out")]
            if rnd.random() < 0.1:
                stamps.pop()  # forgot to check out
            if rnd.random() < 0.5:
                stamps.append((arrive + timedelta(seconds=rnd.randint(1, 50)), "duplicate"))
            for at, verdict in stamps:
                scans.append(LogScan(f"{vid}-{len(scans)}", vid, at, verdict, "G1", "Z1"))
        rnd.shuffle(scans)  # arrival order is not time order
        made += len(scans)
        log.append((scans, shifts))
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
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


if __name__ == "__main__":
    main()
