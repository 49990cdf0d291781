"""Wrong kiosk PINs, counted per device: a few free tries, then a growing wait, then a lockout.

A 4-digit PIN has 10,000 values; with FREE tries, then waits doubling from 2 s, and an hour's lockout
after LOCK_AFTER wrong ones in a row, guessing it takes years instead of minutes. Counted only after the
device token is checked, so a stranger cannot lock a kiosk out by naming its device id. Kept per gateway
process (N gateways allow N times the tries); a right PIN clears the count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

FREE = 3  # typos
LOCK_AFTER = 10
LOCK_S = 3600.0
MAX_DEVICES = 10_000


@dataclass
class _Tries:
    wrong: int
    until: float  # no try is taken before this moment


class PinTries:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._devices: dict[str, _Tries] = {}

    def wait_s(self, device_id: str) -> float:
        """Seconds until this device may try a PIN again; 0 when it may now."""
        tries = self._devices.get(device_id)
        return max(0.0, tries.until - self.clock()) if tries else 0.0

    def wrong(self, device_id: str) -> None:
        tries = self._devices.get(device_id)
        if tries is None:
            if len(self._devices) >= MAX_DEVICES:  # bounded; only authenticated devices get here
                self._devices.clear()
            tries = self._devices[device_id] = _Tries(0, 0.0)
        tries.wrong += 1
        if tries.wrong >= LOCK_AFTER:
            wait = LOCK_S
        elif tries.wrong > FREE:
            wait = float(2 ** (tries.wrong - FREE))
        else:
            wait = 0.0
        tries.until = self.clock() + wait

    def right(self, device_id: str) -> None:
        self._devices.pop(device_id, None)
