"""Where the scan script's time goes: the script cut short at successive points, each pipelined.

    .venv/bin/python -m loadtest.bench_script [--calls 40000] [--rounds 3] [--aof on|off]

Starts a scratch embedded PostgreSQL and Valkey under /tmp (removed afterwards), writes the benchmark's
festival (5,000 volunteers), then runs, in interleaved rounds, the real script and copies of it that return
early at each stage boundary, through loadtest.reference's bare RESP pipeline. Prints µs a call per cut
(medians over rounds): a stage costs the difference between its cut and the one before.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import asyncpg

from checkin.db import migrate
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from checkin.scan.script import SCRIPT
from loadtest import reference
from loadtest.fixture import write_fixture
from loadtest.scenario import make_layout, make_plan
from loadtest.scratch import scratch_servers

EVENT = "bench-script"
EARLY_RETURN = "do return {'ok', '{}', '0'} end\n"
# (what has run when the script returns early, the line it returns before)
CUTS = (
    ("device and token checked", "local durable = "),
    ("+ replay check, backlog, event meta, gate", "local presence = nil"),
    ("+ revocation, roster and presence reads, the decision", "local warn = table.concat"),
    ("+ presence and counter writes", "-- Today's figures, durable"),
    ("+ today's counters (per hour, per gate)", "on_site = on_site or"),
    ("+ the on-site count (read after a duplicate or refusal)", "redis.call('XADD'"),
    ("+ the stream entry (XADD), the answer encoded", "redis.call('SET', KEYS[10]"),
)


def variants() -> list[tuple[str, str]]:
    """(label, script text): each cut, then the whole script."""
    found = []
    for label, marker in CUTS:
        at = SCRIPT.index(marker)  # ValueError when the script changed: update CUTS with it
        found.append((label, SCRIPT[:at] + EARLY_RETURN + SCRIPT[at:]))
    return [*found, ("whole script (+ the answer stored)", SCRIPT)]


async def bench(args: argparse.Namespace, pg_url: str, redis_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    await migrate(conn)
    redis = create_redis(redis_url)
    await redis.config_set("appendonly", "yes" if args.aof == "on" else "no")
    fixture = await write_fixture(conn, redis, Keys("checkin"), make_plan(make_layout(EVENT, 3, 6), 5000))
    card_ids = [c.split(".")[2] for c in fixture.cards]
    runs: dict[str, list[float]] = {}
    for round_no in range(args.rounds):
        for label, script in variants():
            got = await reference.evalsha_rate(conn, redis, redis_url, EVENT, fixture.spare_gate, card_ids, args.calls,
                                                 script)
            if got["errors"] or got["ok"] != got["calls"]:
                raise SystemExit(f"{label}: {got}")
            runs.setdefault(label, []).append(1e6 / got["per_s"])
        print(f"round {round_no + 1} of {args.rounds} done", flush=True)
    print(f"µs a call, median of {args.rounds} rounds of {args.calls:,} pipelined calls (AOF {args.aof}):")
    before = 0.0
    for label, times in runs.items():
        median = statistics.median(times)
        print(f"  {label:<52} {median:6.1f}  (stage {median - before:+5.1f})  runs {', '.join(f'{t:.1f}' for t in times)}")
        before = median
    await redis.aclose()
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--aof", choices=("on", "off"), default="on", help="Valkey's append-only file, as in production")
    args = parser.parse_args()
    with scratch_servers("checkin-bench-script-") as (_, pg, rd):
        asyncio.run(bench(args, pg, rd))


if __name__ == "__main__":
    main()
