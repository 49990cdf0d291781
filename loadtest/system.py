"""The system under test as child processes, their memory, and what machine it all runs on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    peak_rss: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class System:
    """Gateways, recorder and live server, started with the given environment; stopped by PID."""

    env: dict[str, str]
    log_dir: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, name: str, args: list[str], wrap: list[str] | None = None) -> Proc:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it open
        cmd = [*(wrap or []), sys.executable, "-m", "checkin", *args]
        popen = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        proc = Proc(name, popen)
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.popen.poll() is not None:
            return
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def check_alive(self) -> None:
        for proc in self.procs.values():
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {self.log_dir}/{proc.name}.log")


def reap(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, float, float]:
    """Wait for a load generator with wait4, which hands back the child's own CPU seconds; kill it by its
    PID past timeout_s. Returns (exit code, user CPU seconds, system CPU seconds)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime, usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()  # the next wait4 reaps it
            deadline = float("inf")
        time.sleep(0.05)


def raise_fd_limit(wanted: int = 16_384) -> None:
    """1,000 dashboards and hundreds of kiosks need more descriptors than the usual 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def wait_ready(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {seconds:.0f} s")


class MemoryWatch:
    """Peak RSS of named processes, sampled a few times a second while a phase runs."""

    def __init__(self, pids: dict[str, int | list[int]], interval_s: float = 0.25) -> None:
        self.pids = pids
        self.interval_s = interval_s
        self.peak: dict[str, int] = {name: 0 for name in pids}
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for name, pids in self.pids.items():
            total = 0
            for pid in pids if isinstance(pids, list) else [pids]:
                with contextlib.suppress(psutil.Error):
                    total = max(total, psutil.Process(pid).memory_info().rss)
            self.peak[name] = max(self.peak[name], total)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)

    def __enter__(self) -> MemoryWatch:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.sample()


def postgres_pids(data_dir: Path) -> list[int]:
    """The postmaster (from postmaster.pid) and its children."""
    pidfile = data_dir / "postgres" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, psutil.Error):
        root = psutil.Process(int(pidfile.read_text().split()[0]))
        return [root.pid, *(c.pid for c in root.children())]
    return []


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, object]:
    freq = psutil.cpu_freq()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores_logical": psutil.cpu_count(), "cores_physical": psutil.cpu_count(logical=False),
        "cpu_model": model, "cpu_mhz": round(freq.current) if freq else None,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(), "platform": platform.platform(),
        "load_average_at_start": load_average(),
    }
