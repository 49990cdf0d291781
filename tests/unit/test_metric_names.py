"""The Grafana dashboard and the Metrics section of the operations guide name only series the processes serve."""

from __future__ import annotations

import json
import re
from pathlib import Path

from checkin.consumers.live_metrics import LiveMetrics
from checkin.consumers.metrics import RecorderMetrics
from checkin.gateway.metrics import GatewayMetrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
SERIES = re.compile(r"checkin_[a-z_]+")


def served() -> set[str]:
    names = set()
    for registry in (GatewayMetrics().registry, LiveMetrics(dict).registry, RecorderMetrics().registry):
        for family in registry.collect():
            names |= {family.name + suffix for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    return names


def test_the_dashboard_queries_served_series() -> None:
    dashboard = json.loads((DOCS / "grafana-checkin.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = {name for expr in exprs for name in SERIES.findall(expr)}
    assert len(named) >= 12
    assert named <= served(), named - served()


def test_the_operations_guide_names_served_series() -> None:
    text = (DOCS / "operations.md").read_text()
    section = text[text.index("## Metrics"):text.index("## Logs")]
    named = set(SERIES.findall(section))
    assert {"checkin_gateway_scans_total", "checkin_live_clients", "checkin_gateway_batcher_queue_depth"} <= named
    assert named <= served(), named - served()
