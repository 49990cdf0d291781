"""The scale-out benchmark's cluster configuration, run for two seconds: its accounting must balance.

A smoke run of `python -m loadtest.bench_cluster --configs c` (its own embedded PostgreSQL, a three-master
Valkey Cluster, two gateways, two recorders). No figure is asserted, only that the run worked: scans
were answered, none refused whole, three events on three shards, and every answered scan in Postgres.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_bench_accounts_for_every_answered_scan(tmp_path: Path) -> None:
    out = tmp_path / "cluster.json"
    run = subprocess.run(
        [sys.executable, "-m", "loadtest.bench_cluster", "--configs", "c", "--seconds", "2", "--warmup-seconds", "1",
         "--volunteers", "300", "--kiosks", "96", "--out", str(out), "--log-dir", str(tmp_path / "logs")],
        cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, run.stderr[-3000:]
    [result] = orjson.loads(out.read_bytes())["configs"]
    assert "error" not in result, result
    assert result["answered_scans"] > 0
    assert result["failed_scans"] == 0 and result["errors"] == {}
    assert len(set(result["shards"].values())) == 3  # one event per shard
    pg = result["postgres"]
    assert pg["backlog_left"] == 0
    assert pg["missing"] == 0 and pg["stored"] >= pg["answered_including_warmup"] > 0
    assert sorted(pg["by_event"]) == sorted(result["events"])  # every event's scans reached Postgres
