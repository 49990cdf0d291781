"""What attention notes add to the scan script: the same pipelined check-ins with no notes, and with a note on
every shift and every team of the event (each check-in then walks its shifts for the one it falls in).

    .venv/bin/python -m loadtest.note_cost [--calls 40000] [--rounds 5]

Starts a scratch embedded PostgreSQL and Valkey under /tmp (removed afterwards), writes the benchmark's festival
(5,000 volunteers), then alternates the two cases round by round through loadtest.reference's bare RESP pipeline
(the event loaded into a scratch Redis prefix each time). Prints µs a call (medians over rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import asyncpg

from checkin.db import migrate
from checkin.keys import Keys
from checkin.redis_conn import create_redis
from loadtest import reference
from loadtest.bench_script import EVENT
from loadtest.fixture import write_fixture
from loadtest.scenario import make_layout, make_plan
from loadtest.scratch import scratch_servers


async def _notes(conn: asyncpg.Connection, on: bool) -> int:
    await conn.execute("DELETE FROM attention_notes WHERE event_id = $1", EVENT)
    if not on:
        return 0
    done = await conn.execute(
        "INSERT INTO attention_notes (event_id, scope, target_id, note, updated_by)"
        " SELECT $1, 'shift', shift_id, '請先向區長報到，背心在 B 帳篷', 'bench' FROM shifts WHERE event_id = $1"
        " UNION ALL SELECT DISTINCT $1, 'team', v.team_id, '請先到志工服務台報到', 'bench' FROM assignments a"
        " JOIN volunteers v USING (volunteer_id) WHERE a.event_id = $1 AND v.team_id IS NOT NULL", EVENT)
    return int(done.split()[-1])


async def bench(args: argparse.Namespace, pg_url: str, redis_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    await migrate(conn)
    redis = create_redis(redis_url)
    fixture = await write_fixture(conn, redis, Keys("checkin"), make_plan(make_layout(EVENT, 3, 6), 5000))
    card_ids = [c.split(".")[2] for c in fixture.cards]
    runs: dict[str, list[float]] = {"no notes": [], "a note on every shift and team": []}
    noted = 0
    for round_no in range(args.rounds):
        for label in runs:
            noted = max(noted, await _notes(conn, label != "no notes"))
            got = await reference.evalsha_rate(conn, redis, redis_url, EVENT, fixture.spare_gate, card_ids, args.calls)
            if got["errors"] or got["ok"] != got["calls"]:
                raise SystemExit(f"{label}: {got}")
            runs[label].append(1e6 / got["per_s"])
        print(f"round {round_no + 1} of {args.rounds} done", flush=True)
    print(f"µs a scan call, median of {args.rounds} rounds of {args.calls:,} pipelined calls ({noted} notes):")
    for label, times in runs.items():
        print(f"  {label:<34} {statistics.median(times):6.1f}  runs {', '.join(f'{t:.1f}' for t in times)}")
    await redis.aclose()
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with scratch_servers("checkin-note-cost-") as (_, pg, rd):
        asyncio.run(bench(args, pg, rd))


if __name__ == "__main__":
    main()
