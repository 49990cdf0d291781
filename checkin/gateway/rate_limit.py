"""Per-device request budgets: a flooding device is slowed down, the others never notice.

A token bucket per device and kind of request, kept in each gateway process (a device talks to one
gateway at a time through the load balancer, and N gateways at worst allow N times the rate). A gate
scanner cannot physically read more than a few cards a second; a journal replay is one request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_devices: int = 100_000) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self.max_devices = max_devices
        self._buckets: dict[str, _Bucket] = {}

    def retry_after(self, device_id: str) -> float:
        """0 when the request may go ahead (and is counted); else seconds until it may."""
        now = self.clock()
        bucket = self._buckets.get(device_id)
        if bucket is None:
            if len(self._buckets) >= self.max_devices:
                self._buckets.clear()  # bounded memory; a reset only forgives
            bucket = self._buckets[device_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
