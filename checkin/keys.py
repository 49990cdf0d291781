"""Every Redis key name, built here and nowhere else.

All keys of one event share the hash tag ``{event_id}`` so that the scan script touches a single
slot and events spread across the shards of a Redis Cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")


@dataclass(frozen=True)
class EventKeys:
    prefix: str
    event_id: str

    def _k(self, name: str) -> str:
        return f"{self.prefix}:{{{self.event_id}}}:{name}"

    @property
    def meta(self) -> str:  # hash: status, policy fields
        return self._k("meta")

    @property
    def roster(self) -> str:  # hash: card_id -> volunteer record (JSON)
        return self._k("roster")

    @property
    def revoked(self) -> str:  # set of revoked card ids
        return self._k("revoked")

    @property
    def gates(self) -> str:  # hash: gate_id -> gate record (JSON)
        return self._k("gates")

    @property
    def devices(self) -> str:  # hash: device_id -> device record (JSON, with token hash)
        return self._k("devices")

    @property
    def presence(self) -> str:  # hash: volunteer_id -> presence record (JSON)
        return self._k("presence")

    @property
    def counts(self) -> str:  # hash: counter name -> integer
        return self._k("counts")

    @property
    def stream(self) -> str:  # the event's scan stream
        return self._k("scans")

    @property
    def dead_letters(self) -> str:  # stream of entries the recorder could not store
        return self._k("dlq")

    @property
    def durable(self) -> str:  # hash: device_id -> highest contiguous seq in Postgres
        return self._k("durable")

    @property
    def seen(self) -> str:  # hash: device_id -> when the kiosk last polled GET /api/v1/device (epoch ms)
        return self._k("seen")

    @property
    def gate_copy(self) -> str:  # hash: epoch (names this copy's history), version (of its last card change)
        return self._k("gatecopy")

    @property
    def gate_copy_changes(self) -> str:  # sorted set: card_id -> the gate copy version that last changed it
        return self._k("gatecopy:cards")

    def answer(self, scan_id: str) -> str:  # the stored answer to one scan, kept 48 h for idempotency
        return self._k(f"answer:{scan_id}")

    def all_state(self) -> list[str]:
        return [
            self.meta, self.roster, self.revoked, self.gates, self.devices, self.presence,
            self.counts, self.stream, self.dead_letters, self.durable, self.gate_copy, self.gate_copy_changes,
            self.seen,
        ]


@dataclass(frozen=True)
class Keys:
    prefix: str

    def event(self, event_id: str) -> EventKeys:
        if not EVENT_ID_RE.match(event_id):
            raise ValueError(f"event id must be 1-64 letters, digits, '-' or '_': {event_id!r}")
        return EventKeys(self.prefix, event_id)

    @property
    def events(self) -> str:  # set of event ids loaded into Redis: the streams the consumers read
        return f"{self.prefix}:events"

    @property
    def gates(self) -> str:  # hash: gate_id -> event_id of every loaded event (tells unknown gates from others')
        return f"{self.prefix}:gates"
