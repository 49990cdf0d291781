"""The embedded Valkey as `checkin up` runs it: a password made on first start and kept owner-only in the
data directory, the same one after a restart, nothing answered without it, and files no other local user
can read (issue 17, M5: any local user could HSET a forged device record)."""

from __future__ import annotations

import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from checkin.servers import embedded_servers, free_port, wait_port_free


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="checkin-valkey-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _raw(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(256)


def test_a_password_is_made_once_kept_owner_only_and_required(data_dir: Path) -> None:
    port = free_port()
    # A Postgres URL given: only the Valkey is embedded here.
    with embedded_servers(data_dir, postgres_url="postgresql://unused", redis_url=None, redis_port=port) as first:
        password_file = data_dir / "keys" / "valkey.password"
        password = password_file.read_text().strip()
        assert len(password) >= 32 and _mode(password_file) == 0o600
        assert f":{password}@" in first.redis_url
        assert first.valkey is not None and first.valkey.pid is not None
        assert password.encode() not in Path(f"/proc/{first.valkey.pid}/cmdline").read_bytes()  # not shown by `ps`
        assert _raw(port, b"HSET checkin:{ev}:devices forged x\r\n").startswith(b"-NOAUTH")
        client = redis.Redis.from_url(first.redis_url)
        client.hset("checkin:{ev}:devices", "real", "x")
        client.close()
        assert password not in (data_dir / "valkey" / "valkey.log").read_text()
    with embedded_servers(data_dir, postgres_url="postgresql://unused", redis_url=None, redis_port=port) as again:
        assert again.redis_url == first.redis_url  # the same password after a restart
        client = redis.Redis.from_url(again.redis_url)
        assert client.hget("checkin:{ev}:devices", "real") == b"x"  # and the same data, from the append-only file
        client.close()
    valkey_dir = data_dir / "valkey"
    assert _mode(valkey_dir) == 0o700
    files = [p for p in valkey_dir.rglob("*") if p.is_file()]
    assert any(p.parent.name == "appendonlydir" for p in files), files
    assert {p.name: _mode(p) for p in files if _mode(p) & 0o077} == {}
    assert _mode(data_dir / "keys") == 0o700


def test_a_port_held_for_a_moment_is_waited_for() -> None:
    """`checkin up` right after a stop: a port still held by the last run is waited for, not refused."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    assert not wait_port_free("127.0.0.1", port, seconds=0.3)  # held all along: given up on
    releaser = threading.Timer(0.5, holder.close)
    releaser.start()
    try:
        assert wait_port_free("127.0.0.1", port, seconds=10)
    finally:
        releaser.cancel()
        holder.close()
