"""`checkin up`: servers (embedded when no URLs), migrations, the demo, and every process, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

import orjson

import checkin.events.store as events
from checkin.cards.format import load_or_create_private_key
from checkin.cli.server_keeper import ServerKeeper, states
from checkin.config import Config, ConfigError
from checkin.db import connect, migrate
from checkin.events.demo import seed_demo
from checkin.events.rebuild import ensure_loaded
from checkin.keys import Keys
from checkin.redis_conn import create_redis, shown
from checkin.runtime import write_run_file
from checkin.servers import embedded_servers, wait_port_free

log = logging.getLogger(__name__)


def check_port(host: str, port: int, what: str) -> None:
    """Bound with address reuse, as the servers bind; a port still held just after a stop is waited for."""
    if not wait_port_free(host, port):
        raise ConfigError(f"{what} port {port} on {host} is not free; "
                          f"choose another with CHECKIN_{what.upper()}_PORT")


async def prepare(config: Config, demo: bool) -> dict[str, object] | None:
    """Migrate, reload every open event into Redis, and seed the demo on a fresh database."""
    conn = await connect(config.postgres_url)
    redis = create_redis(config.redis_url or "")
    try:
        try:
            await redis.ping()
        except Exception as exc:
            raise ConfigError(f"cannot reach Redis at {shown(config.redis_url or '')}: {exc}") from None
        await migrate(conn)
        keys = Keys(config.redis_prefix)
        rebuilt = await ensure_loaded(conn, redis, keys)  # Redis lost an event: its state from the scan log
        for row in await conn.fetch("SELECT event_id FROM events WHERE status <> 'draft'"):
            if row["event_id"] not in rebuilt:
                await events.load_event(conn, redis, keys, row["event_id"])
        demo_file = config.data_dir / "demo.json"
        made_now = False
        if demo and not demo_file.exists() and not await conn.fetchval("SELECT count(*) FROM events"):
            info = await seed_demo(conn, redis, keys, load_or_create_private_key(config.key_path))
            fd = os.open(demo_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds tokens
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps(info.__dict__))
            made_now = True
        return {**orjson.loads(demo_file.read_bytes()), "made_now": made_now} if demo_file.exists() else None
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


def watch_until_stopped(children: Children, stop: StopFlag, servers: Callable[[], None] | None = None) -> None:
    while not stop.stopping:
        time.sleep(0.5)
        if not stop.stopping:  # a Ctrl-C reaches the children too: they are stopping, not crashed
            if servers is not None:
                servers()  # first: the children need them
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
        f"  metrics    {base}/metrics (each gateway process its own), live http://{config.host}:{config.live_port}"
        "/metrics" + (f", recorder http://{config.host}:{config.recorder_metrics_port}/metrics"
                      if config.recorder_metrics_port else ""),
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
            # The admin token opens everything: shown once, when made; a terminal's scrollback keeps it otherwise.
            f"  admin token        {demo['admin_token']}  (shown this once; kept in {config.data_dir / 'demo.json'})"
            if demo.get("made_now") else
            f"  admin token        in {config.data_dir / 'demo.json'} (readable by its owner only)",
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
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stop = StopFlag()
    with embedded_servers(config.data_dir, postgres_url=config.postgres_url, redis_url=config.redis_url,
                          redis_port=config.embedded_redis_port) as servers:
        pg_url, redis_url = servers.postgres_url, servers.redis_url
        config = config.with_urls(pg_url, redis_url)
        demo_info = asyncio.run(prepare(config, demo))
        keepers = {name: ServerKeeper(label, server) for name, label, server in (
            ("postgres", "PostgreSQL", servers.postgres), ("valkey", "Valkey", servers.valkey)) if server}
        write_run_file(config, pg_url, redis_url, states(keepers))

        def keep_servers() -> None:
            changed = [keeper.check() for keeper in keepers.values()]
            if any(changed):
                write_run_file(config, pg_url, redis_url, states(keepers))
        env = {**os.environ, "CHECKIN_POSTGRES_URL": pg_url, "CHECKIN_REDIS_URL": redis_url,
               "CHECKIN_DATA_DIR": str(config.data_dir)}
        children = Children(env)
        try:
            for i in range(config.gateway_workers):
                children.start(["gateway", "--single", "--name", f"gw{i}"])
            children.start(["consumer", "--name", "recorder-1", "--metrics-port", str(config.recorder_metrics_port)])
            children.start(["live"])
            if not _wait_ready(f"http://{config.host}:{config.gateway_port}/readyz"):
                log.error("the gateway did not become ready within 30 s")
                return 1
            print(banner(config, demo_info), flush=True)
            watch_until_stopped(children, stop, keep_servers)
        finally:
            children.stop()
            with contextlib.suppress(FileNotFoundError):
                (config.data_dir / "run.json").unlink()
    return 0
