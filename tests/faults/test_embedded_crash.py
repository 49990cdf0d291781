"""`checkin up` itself, with its embedded PostgreSQL and Valkey, heals after each is SIGKILLed, and both.

Not a server the test restarts: the test only kills (the Valkey child of `checkin up`, the postmaster
named in postmaster.pid) and watches. Six kiosks keeping the journal protocol scan a small festival
through each fault; afterwards nothing is lost or duplicated, no answer was a 5xx other than 503 with
Retry-After, /readyz was ready again within 10 s, and the live dashboard's figures equal Postgres.
`checkin up` is also stopped and started again at once on the same folder and ports (as an operator
would after the events are made: the gateway learns the new cards' keys at start).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from checkin.access.accounts import add_user
from checkin.keys import Keys
from checkin.servers import free_port
from tests.faults.kiosk_sim import SimKiosk, drive, tick
from tests.faults.script import Plan, build_plan

SIZES = {"morning": 90, "afternoon": 90, "night": 30}  # about 400 scans a fault
DRIVE_S = 12.0  # real seconds the kiosks scan for; the fault comes at KILL_AT_S
KILL_AT_S = 4.0
READY_WITHIN_S = 10.0
FAULTS = ("Valkey SIGKILL", "PostgreSQL postmaster SIGKILL", "both SIGKILL at once")
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults-embedded.txt"

pytestmark = pytest.mark.timeout(240)


class Up:
    """`checkin up --no-demo` in the background, on its own folder and ports, its output in a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.gateway_port, self.live_port = free_port(), free_port()
        keep = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
        self.env = {**keep, "CHECKIN_DATA_DIR": str(self.data_dir), "CHECKIN_GATEWAY_PORT": str(self.gateway_port),
                    "CHECKIN_LIVE_PORT": str(self.live_port), "CHECKIN_EMBEDDED_REDIS_PORT": str(free_port()),
                    "CHECKIN_GATEWAY_WORKERS": "1", "CHECKIN_DEVICE_SCANS_PER_S": "0",
                    "CHECKIN_RECORDER_BLOCK_MS": "50", "CHECKIN_RECORDER_CLAIM_IDLE_MS": "1000"}
        self.log = root / "up.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "checkin", "up", "--no-demo"], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while "Press Ctrl-C to stop." not in self.log.read_bytes()[offset:].decode(errors="replace"):
            assert self.proc.poll() is None, "checkin up exited:\n" + self.tail()
            assert time.monotonic() < deadline, "checkin up did not come up within 90 s:\n" + self.tail()
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def run_info(self) -> dict[str, object]:
        return json.loads((self.data_dir / "run.json").read_text())  # type: ignore[no-any-return]

    def valkey_pid(self) -> int:
        """The valkey-server child of `checkin up` (restarted ones too)."""
        assert self.proc is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rpartition(")")[2].split()[1])
                if ppid == self.proc.pid and b"valkey-server" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
        raise AssertionError("checkin up has no valkey-server child")

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])

    def readyz(self) -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=1) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    root = Path(tempfile.mkdtemp(prefix="checkin-up-faults-"))  # not tmp_path: other users of /tmp/pytest-of-*
    system = Up(root)
    try:
        system.start()
        yield system
    finally:
        system.stop()
        logs = ARTIFACT.parent / "faults-logs" / "test_embedded_crash"
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(system.log, logs / "up.log")
        shutil.rmtree(root, ignore_errors=True)


async def _time_to_ready(up: Up, killed_at: float, limit_s: float = 25.0) -> float | None:
    """Seconds from the kill to the first ready answer that stays ready for 2 s; None if never."""
    ready_at: float | None = None
    while time.monotonic() - killed_at < limit_s:
        status, _ = await asyncio.to_thread(up.readyz)
        now = time.monotonic()
        if status != 200:
            ready_at = None
        elif ready_at is None:
            ready_at = now
        elif now - ready_at >= 2.0:
            return ready_at - killed_at
        await asyncio.sleep(0.1)
    return None


def _kill(up: Up, fault: str) -> None:
    pids = []
    if "Valkey" in fault or "both" in fault:
        pids.append(up.valkey_pid())
    if "PostgreSQL" in fault or "both" in fault:
        pids.append(up.postmaster_pid())
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


# The dashboard's figures as Postgres proves them: each volunteer's last accepted scan says whether they
# are on site, and where (the post of that scan's gate).
_ON_SITE = """
SELECT g.zone_id, count(*) AS n FROM (
    SELECT DISTINCT ON (volunteer_id) volunteer_id, verdict, gate_id FROM scans
    WHERE event_id = $1 AND volunteer_id IS NOT NULL AND verdict IN ('checked_in', 'checked_out')
    ORDER BY volunteer_id, scanned_at DESC, received_at DESC
) last JOIN gates g USING (gate_id) WHERE last.verdict = 'checked_in' GROUP BY g.zone_id
"""


async def _dashboard_vs_postgres(up: Up, conn: asyncpg.Connection, plan: Plan, token: str) -> list[str]:
    """Differences between the live dashboard's snapshot and Postgres, once the recorder has caught up."""
    zones = {r["zone_id"]: r["n"] for r in await conn.fetch(_ON_SITE, plan.event_id)}
    verdicts = {r["verdict"]: r["n"] for r in await conn.fetch(
        "SELECT verdict, count(*) AS n FROM scans WHERE event_id = $1 GROUP BY verdict", plan.event_id)}
    want = {"on_site": sum(zones.values()), "checked_in_total": verdicts.get("checked_in", 0),
            "checked_out_total": verdicts.get("checked_out", 0), "duplicates": verdicts.get("duplicate", 0),
            "rejected": verdicts.get("rejected", 0)}
    url = f"ws://127.0.0.1:{up.live_port}/ws/events/{plan.event_id}?token={token}"
    async with connect(url) as ws:
        view = orjson.loads(await asyncio.wait_for(ws.recv(), 10))["view"]
    got = {name: view["totals"][name] for name in want}
    differ = [f"{name}: dashboard {got[name]}, Postgres {want[name]}" for name in want if got[name] != want[name]]
    for zone in view["zones"]:
        if zone["present"] != zones.get(zone["zone_id"], 0):
            differ.append(f"zone {zone['zone_id']}: dashboard {zone['present']}, "
                          f"Postgres {zones.get(zone['zone_id'], 0)}")
    return differ


async def _one_fault(up: Up, plan: Plan, fault: str, coordinator: str) -> dict[str, object]:
    kiosks = [SimKiosk(up.base_url, token, plan.gates[i], resend_after_s=3) for i, token in enumerate(plan.tokens)]
    scans = plan.kiosk_scans()
    restarts_before = orjson.loads((up.data_dir / "run.json").read_bytes())["servers"]
    async with contextlib.AsyncExitStack() as stack:
        for kiosk in kiosks:
            await stack.enter_async_context(kiosk)
        stop = asyncio.Event()
        tickers = [asyncio.create_task(tick(k, stop)) for k in kiosks]
        started = time.monotonic()

        async def fault_at() -> tuple[float, float | None]:
            await asyncio.sleep(KILL_AT_S)
            _kill(up, fault)
            killed_at = time.monotonic()
            return killed_at, await _time_to_ready(up, killed_at)

        *_, (killed_at, ready_s) = await asyncio.gather(*(drive(k, s, started, DRIVE_S) for k, s in zip(kiosks, scans, strict=True)),
                                           fault_at())
        deadline = time.monotonic() + 30
        while any(k.journal for k in kiosks) and time.monotonic() < deadline:
            await asyncio.gather(*(k.sync() for k in kiosks))
            await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tickers)

    conn = await asyncpg.connect(str(up.run_info()["postgres_url"]))
    try:
        rows = await conn.fetch("SELECT scan_id::text AS scan_id, device_id, seq FROM scans WHERE event_id = $1",
                                plan.event_id)
        differ = await _dashboard_vs_postgres(up, conn, plan, coordinator)
    finally:
        await conn.close()
    made = {sid for k in kiosks for sid in k.log.made}
    acknowledged = {sid for k in kiosks for sid in k.log.acknowledged}
    stored = {r["scan_id"] for r in rows}
    _, ready_body = await asyncio.to_thread(up.readyz)
    # The scans that met the outage (made before ready again, first answered after the kill, if ever): proof
    # the fault met traffic, and how long the slowest of them waited for its first answer.
    outage_end = killed_at + (ready_s if ready_s is not None else DRIVE_S)
    in_outage = [e for k in kiosks for e in k.log.made.values()
                 if e.made_at <= outage_end and (e.answered_at is None or e.answered_at >= killed_at)]
    waits = [e.answered_at - e.made_at for e in in_outage if e.answered_at is not None]
    return {
        "met_outage": len(in_outage), "slowest_in_outage_s": max(waits, default=None),
        "fault": fault, "made": len(made), "acknowledged": len(acknowledged), "stored": len(made & stored),
        "lost": len(made - stored), "duplicated": len(rows) - len({(r["device_id"], r["seq"]) for r in rows}),
        "5xx": sum(len(k.log.server_errors) for k in kiosks), "503": sum(k.log.unavailable for k in kiosks),
        "ready_s": ready_s, "journals_left": sum(len(k.journal) for k in kiosks), "dashboard_differs": differ,
        "server_errors": [e for k in kiosks for e in k.log.server_errors][:5],
        "restarts_before": restarts_before, "embedded": ready_body.get("embedded", {}),
    }


def _table(results: list[dict[str, object]], restart_s: float) -> str:
    heads = ("acknowledged", "stored", "lost", "duplicated", "5xx", "503 + Retry-After", "s to ready",
             "met the outage", "slowest wait s")
    lines = [f"`checkin up` under SIGKILL of its embedded servers: {sum(SIZES.values())} volunteers a fault, "
             f"6 kiosks, {DRIVE_S:.0f} s of scanning, the kill {KILL_AT_S:.0f} s in",
             "", f"{'fault':<32} " + " ".join(f"{h:>{max(len(h), 6)}}" for h in heads)]
    for r in results:
        ready = f"{r['ready_s']:.1f}" if isinstance(r["ready_s"], float) else "never"
        slowest = f"{r['slowest_in_outage_s']:.1f}" if isinstance(r["slowest_in_outage_s"], float) else "-"
        cells = (r["acknowledged"], r["stored"], r["lost"], r["duplicated"], r["5xx"], r["503"], ready,
                 r["met_outage"], slowest)
        lines.append(f"{r['fault']:<32} " + " ".join(f"{c!s:>{max(len(h), 6)}}" for h, c in zip(heads, cells,
                                                                                                strict=True)))
    lines += ["", "5xx: answers >= 500 other than 503 with Retry-After (the kiosk keeps the scan and retries)",
              "met the outage: scans made before /readyz was ready again and answered after the kill; slowest "
              "wait: the longest of theirs from made to first answer",
              f"checkin up stopped and started again on the same ports: ready {restart_s:.1f} s after the stop"]
    return "\n".join(lines) + "\n"


async def _plans(up: Up) -> tuple[list[Plan], list[str]]:
    info = up.run_info()
    conn = await asyncpg.connect(str(info["postgres_url"]))
    redis = aioredis.Redis.from_url(str(info["redis_url"]))
    keys = Keys("checkin")
    try:
        plans = [await build_plan(conn, redis, keys, sizes=SIZES, seed=20 + i) for i in range(len(FAULTS))]
        coordinators = [(await add_user(conn, "協調員", "coordinator", p.event_id))[1] for p in plans]
    finally:
        await redis.aclose()
        await conn.close()
    return plans, coordinators


def test_checkin_up_heals_its_embedded_servers(up: Up) -> None:
    plans, coordinators = asyncio.run(_plans(up))
    stopped = time.monotonic()
    up.stop()  # and at once again, on the same ports: the gateway learns the new cards' keys at start
    up.start()
    restart_s = time.monotonic() - stopped

    results = [asyncio.run(_one_fault(up, plan, fault, coordinator))
               for plan, fault, coordinator in zip(plans, FAULTS, coordinators, strict=True)]
    report = _table(results, restart_s)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(report, encoding="utf-8")
    print("\n" + report)

    status = subprocess.run([sys.executable, "-m", "checkin", "status"], env=up.env, capture_output=True, text=True,
                            timeout=60)
    log = up.log.read_text(errors="replace")
    for r in results:
        fault = r["fault"]
        assert r["lost"] == 0 and r["journals_left"] == 0, r
        assert r["duplicated"] == 0, r
        assert r["5xx"] == 0, r["server_errors"]
        assert r["ready_s"] is not None and r["ready_s"] <= READY_WITHIN_S, r
        assert not r["dashboard_differs"], r["dashboard_differs"]
        # The fault met traffic. Whether a scan is refused depends on how fast the server is back: a Valkey
        # restarted within the client's retries (about 0.4 s of backoff) is never seen by a scan, which is
        # answered late instead of refused (CI saw both); the restart counts below prove the kill itself.
        assert r["met_outage"] > 0, f"{fault} never bit: no scan met the outage"
        for name in ("valkey", "postgres"):
            killed = name == "valkey" and "Valkey" in str(fault) or name == "postgres" and "PostgreSQL" in str(fault) \
                or "both" in str(fault)
            before = r["restarts_before"][name]["restarts"]  # type: ignore[index]
            assert r["embedded"][name]["restarts"] == before + killed, (fault, r["embedded"])  # type: ignore[index]
    assert "embedded valkey: running, 2 restart(s)" in status.stderr, status.stderr
    assert "embedded postgres: running, 2 restart(s)" in status.stderr, status.stderr
    assert log.count("embedded Valkey is back") == 2 and log.count("embedded PostgreSQL is back") == 2, log[-3000:]
    assert "Traceback" not in log, log[log.index("Traceback") - 300:][:3000]
    for server in ("Redis", "Postgres"):  # each outage the gateway saw is one line, and its end one more
        assert log.count(f"{server} unreachable (") == log.count(f"{server} is back after") >= 1, log[-3000:]
