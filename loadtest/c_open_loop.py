"""The open loop driven by loadtest/open_loop.c, built with the machine's C compiler into the run's folder.

Why not wrk here: plain wrk (Debian has no wrk2) sends the next request when the last is answered and
times from the moment it sent, so a slow gateway lowers the offered rate and hides its queue. The
Python generator (loadtest/http_load.py) schedules correctly but costs 35-65 µs of CPU a request, 7-13%
of two cores at 4,000 scans/s. The C client keeps the Python one's method (one keep-alive connection per
kiosk, a fixed schedule, a busy connection pipelines, latency from the scheduled moment) at a few µs a
request; its CPU time comes from wait4 when it exits.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from loadtest.http_load import PhaseStats, Request
from loadtest.system import reap

SOURCE = Path(__file__).resolve().with_name("open_loop.c")
MISSING = "the open loop needs a C compiler: run `make bench-deps` (as root it runs apt-get install gcc libc6-dev)"


def build(workdir: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError(MISSING)
    binary = workdir / "open_loop"
    done = subprocess.run([compiler, "-O2", "-Wall", "-o", str(binary), str(SOURCE)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{MISSING}\n{done.stderr[-2000:]}")
    return binary


def write_requests(requests: list[Request], path: Path) -> int:
    """Records "<kiosk> <scans> <batch> <length>\\n<bytes>" in send order, kiosks numbered 0.. densely;
    returns how many kiosks (connections) that makes."""
    kiosks: dict[int, int] = {}
    chunks = []
    for r in requests:
        kiosk = kiosks.setdefault(r.device, len(kiosks))
        chunks.append(b"%d %d %d %d\n" % (kiosk, r.scans, int(r.batch), len(r.data)))
        chunks.append(r.data)
    path.write_bytes(b"".join(chunks))
    return len(kiosks)


def read_answers(path: Path, stats: PhaseStats) -> None:
    """Fold the client's per-request lines into stats: latencies, send lag, refusals and losses."""
    with open(path, "rb") as lines:
        for line in lines:
            kind, status_text, latency, lag, scans_text = line.split()
            status, scans = int(status_text), int(scans_text)
            stats.send_lag_ms.append(float(lag))
            if status == 0:
                stats.errors["no answer (connection lost or answer timeout)"] += scans
                continue
            (stats.batch_latencies_ms if kind == b"b" else stats.latencies_ms).append(float(latency))
            if status != 200:
                stats.errors[f"http {status}"] += scans


def parse_summary(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("OPEN-JSON "):
            data: dict[str, Any] = orjson.loads(line[len("OPEN-JSON "):])
            return data
    raise RuntimeError(f"the open-loop client printed no summary: {stdout[-500:]!r}")


def open_loop(binary: Path, host: str, port: int, requests: list[Request], rate: float, duration_s: float,
              workdir: Path, answer_timeout_s: float = 30.0, name: str = "open") -> tuple[PhaseStats, int]:
    """Like http_load.open_loop, from C: the stats (verdicts left empty: read them from Postgres) and the
    number of requests sent. Blocks until the client has exited."""
    request_file, answers = workdir / f"{name}-requests", workdir / f"{name}-answers"
    write_requests(requests, request_file)
    command = [str(binary), host, str(port), str(rate), str(duration_s), str(answer_timeout_s),
               str(request_file), str(answers)]
    out_path = workdir / f"{name}-stdout.txt"
    began = time.perf_counter()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    status, user_s, sys_s = reap(proc, duration_s + answer_timeout_s + 30)
    wall = time.perf_counter() - began
    stdout = out_path.read_text(errors="replace")
    if status != 0:
        raise RuntimeError(f"the open-loop client exited with {status}: {stdout[-500:]!r}")
    summary = parse_summary(stdout)
    stats = PhaseStats("open", target_rate=rate, errors=Counter())
    stats.sent_requests = int(summary["sent_requests"])
    stats.sent_scans = int(summary["sent_scans"])
    stats.answered_requests = int(summary["answered_requests"])
    stats.answered_scans = int(summary["answered_scans"])
    stats.failed_scans = int(summary["failed_scans"])
    stats.first_send, stats.last_answer = 0.0, float(summary["last_answer_s"])
    stats.generator_cpu_s, stats.generator_wall_s = user_s + sys_s, wall
    read_answers(answers, stats)
    return stats, stats.sent_requests
