"""What a password sign-in costs the gateway: Argon2 hashing and checking (no servers), one at a time and several
at once, since each check runs in a worker thread beside the event loop.

    .venv/bin/python -m loadtest.bench_signin [--runs 20] [--parallel 4]

A wrong password and an unknown name cost the same check (checkin/access/staff_sessions.py), so these figures
are also what a guesser makes the gateway spend per attempt, within the per-address budget of one a second.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from checkin.access.staff_sessions import _verify, hash_password


def _timed(fn: object, *args: object) -> float:
    began = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    stored = hash_password("lantern-festival-2024")
    hashing = [_timed(hash_password, "lantern-festival-2024") for _ in range(args.runs)]
    right = [_timed(_verify, stored, "lantern-festival-2024") for _ in range(args.runs)]
    wrong = [_timed(_verify, stored, "not the password") for _ in range(args.runs)]
    unknown = [_timed(_verify, None, "not the password") for _ in range(args.runs)]
    for label, ms in (("hash (choosing a password)", hashing), ("check, right password", right),
                      ("check, wrong password", wrong), ("check, unknown name", unknown)):
        print(f"{label:28} median {statistics.median(ms):6.1f} ms  max {max(ms):6.1f} ms  ({args.runs} runs)")
    total = args.runs * args.parallel
    with ThreadPoolExecutor(args.parallel) as pool:
        began = time.perf_counter()
        list(pool.map(lambda _: _verify(stored, "not the password"), range(total)))
        seconds = time.perf_counter() - began
    print(f"{total} checks on {args.parallel} threads: {seconds:.2f} s, {total / seconds:.1f} checks a second")


if __name__ == "__main__":
    main()
