"""The roster upload benchmark through its arguments, on a small roster: the console's routes took the whole
file (checked, then imported, every row) and the watch on the same gateway process was answered meanwhile. No
figure is asserted but that each was measured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


def test_the_roster_upload_bench_sends_every_row_through_the_console_routes() -> None:
    run = subprocess.run([sys.executable, "-m", "loadtest.bench_roster_upload", "--size", "400", "--encoding",
                          "utf-8-sig", "--again", "1"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    result = orjson.loads(run.stdout.strip().splitlines()[-1])
    assert (result["rows_checked"], result["rows_imported"], result["inserted"]) == (400, 400, 400)
    assert result["encoding"] == "utf-8-sig" and result["check_s"] > 0 and result["import_s"] > 0
    assert result["healthz_probes"] >= 1 and result["rss_peak_mb"] >= result["rss_before_mb"] > 0
    assert len(result["rss_after_each_further_check_mb"]) == 1 and result["rss_after_mb"] > 0
    assert "roster of 400 volunteers (utf-8-sig" in run.stdout
