"""The closed loop driven by wrk (a C load generator) with loadtest/wrk_scans.lua, and what wrk itself cost.

The Python generator (loadtest/http_load.py) spends 35-65 µs of CPU a request, a third of what the
system needs at saturation on two cores, so the closed loop would measure the generator as much as the
gateway. wrk sends prebuilt requests from C at a few µs each. Its CPU time comes from the kernel's
accounting of the reaped child (wait4, loadtest.system.reap), so the share of the machine it took is measured, not assumed.
Loopback only; bounded by wrk's own duration and a kill after a grace period.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from loadtest.http_load import Request
from loadtest.system import reap

SCRIPT = Path(__file__).resolve().with_name("wrk_scans.lua")
MISSING = "wrk is not installed: run `make bench-deps` (as root it runs apt-get install wrk)"


@dataclass
class WrkRun:
    summary: dict[str, Any]  # what wrk_scans.lua's done() printed
    cpu_s: float  # wrk's user + system CPU seconds
    sys_s: float  # of which in the kernel (a loopback write also delivers into the server's socket)
    wall_s: float  # from start to exit
    command: list[str]


def find_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError(MISSING)
    return path


def write_requests(requests: list[Request], threads: int, prefix: Path) -> list[int]:
    """One file per wrk thread, each kiosk's requests in one thread's file in order; scans per file."""
    parts: list[list[bytes]] = [[] for _ in range(threads)]
    counts = [0] * threads
    for request in requests:
        part = request.device % threads
        parts[part].append(b"%d\n" % len(request.data))
        parts[part].append(request.data)
        counts[part] += request.scans
    for i, chunks in enumerate(parts):
        Path(f"{prefix}.{i}").write_bytes(b"".join(chunks))
    return counts


def parse_summary(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("WRK-JSON "):
            data: dict[str, Any] = orjson.loads(line[len("WRK-JSON "):])
            return data
    raise RuntimeError(f"wrk printed no summary: {stdout[-500:]!r}")


def prepare(requests: list[Request], threads: int, workdir: Path) -> Path:
    """Write the request files for `threads` wrk threads; the prefix wrk_scans.lua is given."""
    if any(r.batch for r in requests):
        raise ValueError("the wrk closed loop sends single scans only")
    prefix = workdir / "wrk-requests"
    write_requests(requests, threads, prefix)
    return prefix


def run_closed(host: str, port: int, prefix: Path, threads: int, connections: int, duration_s: float,
               workdir: Path) -> WrkRun:
    """Run wrk for duration_s over `connections` keep-alive connections; blocks until it has exited."""
    wrk = find_wrk()
    seconds = max(1, round(duration_s))
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(SCRIPT), f"http://{host}:{port}/api/v1/scans", "--", str(prefix)]
    out_path = workdir / "wrk-stdout.txt"
    began = time.perf_counter()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    status, user_s, sys_s = reap(proc, seconds + 30)
    wall = time.perf_counter() - began
    stdout = out_path.read_text(errors="replace")
    if status != 0:
        raise RuntimeError(f"wrk exited with {status}: {stdout[-500:]!r}")
    return WrkRun(parse_summary(stdout), user_s + sys_s, sys_s, wall, command)
