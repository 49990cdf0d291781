"""The front door: `checkin up` on a fresh data folder, a scan by HTTP, a restart, and bad configuration."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checkin.servers import free_port


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env.update(extra)
    return env


def _checkin(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "checkin", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


class Up:
    """`checkin up` as a user runs it, in the background, with its own folder and ports."""

    def __init__(self, data_dir: Path) -> None:
        self.gateway_port = free_port()
        self.env = _env(CHECKIN_DATA_DIR=str(data_dir), CHECKIN_GATEWAY_PORT=str(self.gateway_port),
                        CHECKIN_LIVE_PORT=str(free_port()), CHECKIN_EMBEDDED_REDIS_PORT=str(free_port()),
                        CHECKIN_GATEWAY_WORKERS="1", CHECKIN_RECORDER_METRICS_PORT=str(free_port()))
        self.log = data_dir.parent / f"up-{self.gateway_port}.log"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        self.proc = subprocess.Popen([sys.executable, "-m", "checkin", "up"], env=self.env,
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.log.read_text()
            if "Press Ctrl-C to stop." in text:
                return text
            assert self.proc.poll() is None, text
            time.sleep(0.2)
        raise AssertionError("checkin up did not come up within 60 s:\n" + self.log.read_text())

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)

    def scan(self, token: str, card: str, seq: int, at: datetime | None = None) -> dict[str, object]:
        """A live scan now; or, given `at`, one replayed from the kiosk's journal (its own clock counts)."""
        scan = {"scan_id": str(uuid.uuid4()), "card": card, "gate_id": "huabo-desk",
                "scanned_at": (at or datetime.now(UTC)).isoformat(), "seq": seq}
        path, body = ("/api/v1/scans", scan) if at is None else ("/api/v1/scans/batch", {"scans": [scan]})
        req = urllib.request.Request(f"http://127.0.0.1:{self.gateway_port}{path}", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        return answer if at is None else answer["results"][0]


def _banner_value(text: str, label: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith(label):
            return line.split()[-1]
    raise AssertionError(f"no {label!r} in:\n{text}")


def _every_process_serves_metrics(banner: str) -> None:
    """The banner's metrics line names the three /metrics addresses, and each answers with its series."""
    line = next(line for line in banner.splitlines() if line.strip().startswith("metrics"))
    urls = [word.rstrip(",") for word in line.split() if word.startswith("http://")]
    gateway, live, recorder = (urllib.request.urlopen(url, timeout=10).read().decode() for url in urls)
    assert 'checkin_gateway_scans_total{verdict="checked_in"} 1.0' in gateway  # one process: its count is the count
    assert "checkin_live_scan_to_send_seconds_count" in live
    assert "checkin_recorder_rows_total" in recorder


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """Not under pytest's own 0700 folder: the embedded server runs as its own user and must reach its data."""
    path = Path(tempfile.mkdtemp(prefix="checkin-test-up-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_up_scan_restart_keeps_data(reachable_dir: Path) -> None:
    up = Up(reachable_dir / "data")
    banner = up.start()
    try:
        token = _banner_value(banner, "device token")
        coordinator = _banner_value(banner, "coordinator token")
        assert f"/kiosk/office.html#event=lantern2023&token={coordinator}" in banner
        card = banner.split("demo cards:")[1].splitlines()[1].split()[-1]
        first_at = datetime.now(UTC)
        assert up.scan(token, card, 1, first_at)["verdict"] == "checked_in"
        deadline = time.monotonic() + 60
        while True:
            status = json.loads(_checkin("status", env=up.env).stdout)
            if status[0]["scans_in_postgres"] == 1:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        _every_process_serves_metrics(banner)
    finally:
        assert up.stop() == 0
    # Everything stopped: no server of ours is left on its port.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", up.gateway_port)) != 0

    banner = up.start()  # same data folder: same demo, same tokens, the scan still there
    try:
        assert _banner_value(banner, "device token") == token
        status = json.loads(_checkin("status", env=up.env).stdout)
        assert status[0]["scans_in_postgres"] == 1
        assert status[0]["on_site"] == 1
        # 5 s after the first by the kiosk's clock, however long the restart took: within its debounce window
        second = up.scan(token, card, 2, first_at + timedelta(seconds=5))
        assert second["verdict"] == "duplicate", second
    finally:
        assert up.stop() == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHECKIN_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/none", "CHECKIN_REDIS_URL": "redis://127.0.0.1:1/0"},
         "cannot reach Postgres"),
        ({"CHECKIN_REDIS_URL": "redis://127.0.0.1:notaport/0"}, "malformed port"),
        ({"CHECKIN_REDIS_URL": "http://127.0.0.1:6379"}, "CHECKIN_REDIS_URL must start with"),
        ({"CHECKIN_GATEWAY_PORT": "eighty"}, "CHECKIN_GATEWAY_PORT must be a whole number"),
    ],
)
def test_bad_configuration_gives_one_clear_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    base = {"CHECKIN_DATA_DIR": str(tmp_path), "CHECKIN_GATEWAY_PORT": str(free_port()),
            "CHECKIN_LIVE_PORT": str(free_port())}
    result = _checkin("up", env=_env(**{**base, **env}))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("checkin: error: ")
    assert message in result.stderr


def test_port_in_use_gives_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _checkin("up", env=_env(CHECKIN_DATA_DIR=str(tmp_path), CHECKIN_GATEWAY_PORT=str(port)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"gateway port {port}" in result.stderr.strip().splitlines()[-1]
