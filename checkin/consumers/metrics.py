"""The recorder's Prometheus metrics: what it wrote, and how far behind each event stream it is."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from checkin.streams import Backlog, id_ms


class RecorderMetrics:
    """One registry per recorder, so several recorders (tests, benchmarks) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.batches = Counter("checkin_recorder_batches", "Batches committed to Postgres", registry=r)
        self.rows = Counter("checkin_recorder_rows", "Stream entries committed to Postgres", registry=r)
        self.dead_letters = Counter("checkin_recorder_dead_letters", "Entries moved to the dead-letter stream",
                                    registry=r)
        self.reclaimed = Counter("checkin_recorder_reclaimed", "Entries taken over from idle consumers", registry=r)
        self.postgres_errors = Counter("checkin_recorder_postgres_errors",
                                       "Failed batch writes, by kind (transient: retried; data: split)",
                                       ["kind"], registry=r)
        self.stage_seconds = Counter("checkin_recorder_stage_seconds", "Time spent per stage of a batch",
                                     ["stage"], registry=r)
        self.batch_seconds = Histogram("checkin_recorder_batch_seconds", "Wall time to commit one batch",
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                       registry=r)
        labels = ["event_id"]
        self.stream_length = Gauge("checkin_stream_length", "Entries in the event stream", labels, registry=r)
        self.pending = Gauge("checkin_recorder_pending", "Entries read but not acknowledged", labels, registry=r)
        self.unread = Gauge("checkin_recorder_unread", "Entries not yet delivered to the group", labels,
                            registry=r)
        self.oldest_pending_age = Gauge("checkin_recorder_oldest_pending_age_seconds",
                                        "Age of the oldest unacknowledged entry", labels, registry=r)
        self.lag_seconds = Gauge("checkin_recorder_lag_seconds",
                                 "Age of the oldest entry not yet in Postgres (0 when caught up)", labels,
                                 registry=r)
        self.dlq_length = Gauge("checkin_recorder_dead_letter_length", "Entries in the dead-letter stream",
                                labels, registry=r)

    def batch(self, rows: int, seconds: float, stages: dict[str, float]) -> None:
        self.batches.inc()
        self.rows.inc(rows)
        self.batch_seconds.observe(seconds)
        for stage, spent in stages.items():
            self.stage_seconds.labels(stage).inc(spent)

    def backlog(self, event_id: str, backlog: Backlog | None, length: int, dlq_length: int, now_ms: int) -> None:
        self.stream_length.labels(event_id).set(length)
        self.dlq_length.labels(event_id).set(dlq_length)
        pending = backlog.pending if backlog else 0
        self.pending.labels(event_id).set(pending)
        self.unread.labels(event_id).set(backlog.unread if backlog else 0)
        oldest = backlog.oldest_pending_id if backlog else None
        self.oldest_pending_age.labels(event_id).set(max(0, now_ms - id_ms(oldest)) / 1000 if oldest else 0)
        outstanding = backlog.oldest_outstanding_ms() if backlog else None
        self.lag_seconds.labels(event_id).set(max(0, now_ms - outstanding) / 1000 if outstanding else 0)

    def serve(self, host: str, port: int) -> None:
        """Expose /metrics on a background thread (the exposition is tiny and read-only)."""
        start_http_server(port, addr=host, registry=self.registry)
