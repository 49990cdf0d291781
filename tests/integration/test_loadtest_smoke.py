"""The load test itself, run small: its accounting must add up, or its figures mean nothing.

A few seconds at a low open-loop rate against the session's servers (a scratch database and key
prefix of the benchmark's own): every scan sent is answered and counted, every answered scan is in
Postgres, and the results file has every field the README and docs/benchmarks.md read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from loadtest.scenario import make_layout, make_plan

ROOT = Path(__file__).resolve().parents[2]


def test_plan_is_seeded_and_shaped_like_a_shift_change() -> None:
    layout = make_layout("ev", days=2, kiosks_per_gate=2, zones=2)
    plan = make_plan(layout, 400, seed=5)
    again = make_plan(layout, 400, seed=5)
    assert [(u.at_ms, u.device, len(u.scans)) for u in plan.units] == \
           [(u.at_ms, u.device, len(u.scans)) for u in again.units]
    assert plan.kinds["arrive"] == 800 and plan.kinds["revoked"] == 2
    assert 0 < plan.kinds["double"] < 80 and plan.kinds["depart"] < 800
    assert any(u.batch for u in plan.units)
    for device in range(len(layout.devices)):  # each kiosk numbers its scans 1, 2, 3 ... in send order
        seqs = [s.seq for u in plan.units if u.device == device for s in u.scans]
        assert seqs == list(range(1, len(seqs) + 1))


@pytest.fixture
def admin_pg_url(server_urls: tuple[str, str]) -> str:
    parts = urlsplit(server_urls[0])
    return urlunsplit(parts._replace(path="/postgres"))


def test_quick_open_loop_accounts_for_every_scan(admin_pg_url: str, redis_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.run", "--quick", "--phases", "open", "--rate", "150", "--duration", "3",
         "--volunteers", "600", "--postgres-url", admin_pg_url, "--redis-url", redis_url, "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "summary.md").read_text().startswith("# Benchmark")
    for field in ("started_at", "machine", "versions", "config", "open", "targets", "peak_rss_mb"):
        assert field in results, field
    assert {"cores_logical", "memory_gib"} <= results["machine"].keys()
    assert {"postgres", "redis"} <= results["versions"].keys()
    run = results["open"]
    assert run["sent_scans"] >= 300
    assert run["failed_scans"] == 0, run["errors"]
    assert run["answered_scans"] == run["sent_scans"]
    assert run["unaccounted_scans"] == 0
    assert sum(run["verdicts"].values()) == run["answered_scans"]
    assert run["postgres"]["stored"] == run["answered_scans"]
    assert run["postgres"]["missing"] == 0
    for key in ("p50", "p95", "p99", "max"):
        assert run["latency_ms"][key] is not None
    assert run["postgres"]["lag_ms"]["p99"] is not None
    assert results["peak_rss_mb"]["gateway"] > 0
