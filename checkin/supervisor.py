"""`checkin up`: servers (embedded when no URLs), migrations, the demo, and every process, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import orjson

from checkin import events
from checkin.cards import load_or_create_private_key
from checkin.config import Config, ConfigError
from checkin.db import connect, migrate
from checkin.demo import seed_demo
from checkin.keys import Keys
from checkin.rebuild import ensure_loaded
from checkin.redis_conn import create_redis
from checkin.runtime import write_run_file
from checkin.servers import embedded_servers

log = logging.getLogger(__name__)


def check_port(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"{what} port {port} on {host} is not free ({exc.strerror}); "
                              f"choose another with CHECKIN_{what.upper()}_PORT") from None


async def prepare(config: Config, demo: bool) -> dict[str, object] | None:
    """Migrate, reload every open event into Redis, and seed the demo on a fresh database."""
    conn = await connect(config.postgres_url)
    redis = create_redis(config.redis_url or "")
    try:
        try:
            await redis.ping()
        except Exception as exc:
            raise ConfigError(f"cannot reach Redis at {config.redis_url}: {exc}") from None
        await migrate(conn)
        keys = Keys(config.redis_prefix)
        rebuilt = await ensure_loaded(conn, redis, keys)  # Redis lost an event: its state from the scan log
        for row in await conn.fetch("SELECT event_id FROM events WHERE status <> 'draft'"):
            if row["event_id"] not in rebuilt:
                await events.load_event(conn, redis, keys, row["event_id"])
        demo_file = config.data_dir / "demo.json"
        if demo and not demo_file.exists() and not await conn.fetchval("SELECT count(*) FROM events"):
            info = await seed_demo(conn, redis, keys, load_or_create_private_key(config.key_path))
            fd = os.open(demo_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds tokens
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps(info.__dict__))
        return orjson.loads(demo_file.read_bytes()) if demo_file.exists() else None
    finally:
        await redis.aclose()
        await conn.close()


class Children:
    """The system's processes, restarted if one dies, stopped in order on exit."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.specs: list[list[str]] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str]) -> None:
        self.specs.append(args)
        self.procs.append(self._spawn(args))

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "checkin", *args], env=self.env)

    def watch(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                log.warning("%s exited with %s; restarting", " ".join(self.specs[i]), proc.returncode)
                self.procs[i] = self._spawn(self.specs[i])

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
                proc.wait()


class StopFlag:
    """Set by SIGINT or SIGTERM: the supervising loop ends, then the children are stopped in order."""

    def __init__(self) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True


def watch_until_stopped(children: Children, stop: StopFlag) -> None:
    while not stop.stopping:
        time.sleep(0.5)
        if not stop.stopping:  # a Ctrl-C reaches the children too: they are stopping, not crashed
            children.watch()


def _wait_ready(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return True
        time.sleep(0.2)
    return False


def banner(config: Config, demo: dict[str, object] | None) -> str:
    base = f"http://{config.host}:{config.gateway_port}"
    lines = [
        "", "checkin is up.",
        f"  API        {base}/api/v1/scans   (health: {base}/healthz, {base}/readyz)",
        f"  live       ws://{config.host}:{config.live_port}/ws/events/<event_id>?token=<coordinator token>",
        f"  kiosk      {base}/kiosk/",
        f"  dashboard  {base}/kiosk/dashboard.html",
    ]
    if demo:
        cards = demo["cards"]
        assert isinstance(cards, list)
        lines += [
            f"  dashboard for the demo: {base}/kiosk/dashboard.html#event={demo['event_id']}"
            f"&token={demo['coordinator_token']}",
            f"  coordinator desk (no card? undo a scan): {base}/kiosk/coordinator.html#event={demo['event_id']}"
            f"&token={demo['coordinator_token']}",
            f"  office (hours, corrections, exports, certificates): {base}/kiosk/office.html#event={demo['event_id']}"
            f"&token={demo['coordinator_token']}",
            f"  enrol a kiosk: checkin device link --event {demo['event_id']} --gate {demo['gate_id']}",
            f"  demo event {demo['event_id']}  gate {demo['gate_id']}",
            f"  device token       {demo['device_token']}",
            f"  coordinator token  {demo['coordinator_token']}",
            f"  admin token        {demo['admin_token']}",
            "  demo cards:",
            *(f"    {name}  {text}" for name, text in cards),
            "  check one in (run it twice, a minute apart, to check out):",
            f"    curl -s {base}/api/v1/scans -H 'Authorization: Bearer {demo['device_token']}' \\",
            "      -H 'Content-Type: application/json' -d \"{\\\"scan_id\\\": \\\"$(cat /proc/sys/kernel/random/uuid)\\\", "
            f"\\\"card\\\": \\\"{cards[0][1]}\\\", \\\"gate_id\\\": \\\"{demo['gate_id']}\\\", "
            "\\\"scanned_at\\\": \\\"$(date -Iseconds)\\\", \\\"seq\\\": 1}\"",
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def up(config: Config, *, demo: bool = True) -> int:
    check_port(config.host, config.gateway_port, "gateway")
    check_port(config.host, config.live_port, "live")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stop = StopFlag()
    with embedded_servers(config.data_dir, postgres_url=config.postgres_url, redis_url=config.redis_url,
                          redis_port=config.embedded_redis_port) as (pg_url, redis_url):
        config = config.with_urls(pg_url, redis_url)
        demo_info = asyncio.run(prepare(config, demo))
        write_run_file(config, pg_url, redis_url)
        env = {**os.environ, "CHECKIN_POSTGRES_URL": pg_url, "CHECKIN_REDIS_URL": redis_url,
               "CHECKIN_DATA_DIR": str(config.data_dir)}
        children = Children(env)
        try:
            for i in range(config.gateway_workers):
                children.start(["gateway", "--single", "--name", f"gw{i}"])
            children.start(["consumer", "--name", "recorder-1"])
            children.start(["live"])
            if not _wait_ready(f"http://{config.host}:{config.gateway_port}/readyz"):
                log.error("the gateway did not become ready within 30 s")
                return 1
            print(banner(config, demo_info), flush=True)
            watch_until_stopped(children, stop)
        finally:
            children.stop()
            with contextlib.suppress(FileNotFoundError):
                (config.data_dir / "run.json").unlink()
    return 0
