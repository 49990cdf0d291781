"""The live server's Prometheus metrics, read from its hubs when scraped so a send costs nothing more
than one histogram observation per delta."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from checkin.consumers.live_hub import EventHub

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10)


class _HubCollector(Collector):
    def __init__(self, hubs: Callable[[], Mapping[str, EventHub]]) -> None:
        self.hubs = hubs

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        clients = GaugeMetricFamily("checkin_live_clients", "Dashboards connected, by event", labels=["event_id"])
        drops = CounterMetricFamily("checkin_live_queue_drops", "Clients cut off for staying stalled, by event",
                                    labels=["event_id"])
        resends = CounterMetricFamily("checkin_live_snapshot_resends",
                                      "Snapshots sent in place of a backlog a client did not read, by event",
                                      labels=["event_id"])
        for event_id, hub in list(self.hubs().items()):
            clients.add_metric([event_id], sum(len(g.subscribers) for g in hub.groups.values()))
            drops.add_metric([event_id], hub.dropped)
            resends.add_metric([event_id], hub.resets)
        return [clients, drops, resends]


class LiveMetrics:
    def __init__(self, hubs: Callable[[], Mapping[str, EventHub]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_HubCollector(hubs))
        self.scan_to_send = Histogram("checkin_live_scan_to_send_seconds",
                                      "From a scan reaching the stream to its delta being queued for clients",
                                      buckets=_LATENCY_BUCKETS, registry=self.registry)

    def sent(self, seconds: float) -> None:
        self.scan_to_send.observe(seconds)
