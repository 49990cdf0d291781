"""Keeps `checkin up`'s embedded PostgreSQL and Valkey running.

A server found dead is started again on its own data (PostgreSQL recovers from its WAL, Valkey replays
its append-only file). The first restart is immediate; a server that keeps dying, or will not start,
is tried again after a growing pause. Each change is one line on the console, and the state is kept
for `checkin status` and /readyz (through the run file).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

BACKOFF_S = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # before the n-th restart in a row
# After a restart that failed. Soon at first: a killed postmaster's backends hold its shared memory
# for a moment, and PostgreSQL refuses to start until they are gone.
RETRY_S = (0.5, 0.5, 0.5, 1.0, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
STABLE_S = 60.0  # up this long: the next crash is restarted at once again


class Restartable(Protocol):
    def alive(self) -> bool: ...

    def restart(self) -> None: ...


@dataclass
class ServerStatus:
    state: str = "running"  # running, restarting (dead, restart due now) or backing_off (waiting to try)
    restarts: int = 0  # successful restarts since `checkin up` started
    down_since: float | None = None  # wall-clock time it was found dead
    last_error: str = ""  # why the last restart failed

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "down_since": self.down_since,
                "last_error": self.last_error}


class ServerKeeper:
    """One embedded server: `check()` is called by the supervising loop every half second or so."""

    def __init__(self, label: str, server: Restartable, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.server = server
        self.clock = clock
        self.status = ServerStatus()
        self._in_a_row = 0  # restarts since the server last stayed up STABLE_S
        self._up_since = clock()
        self._down_at = 0.0
        self._next_try = 0.0
        self._failed_tries = 0  # failed restarts in this outage

    def check(self) -> bool:
        """Restart the server if it died and its pause is over; True when the status changed."""
        now = self.clock()
        if self.status.state == "running":
            if self.server.alive():
                if now - self._up_since >= STABLE_S:
                    self._in_a_row = 0
                return False
            self._down_at = now
            self._next_try = now + BACKOFF_S[min(self._in_a_row, len(BACKOFF_S) - 1)]
            self.status.state = "restarting" if self._next_try <= now else "backing_off"
            self.status.down_since = time.time()
            log.warning("embedded %s died; %s", self.label, "restarting it on its data" if self._next_try <= now
                        else f"it keeps dying: restarting it in {self._next_try - now:g} s")
            if self._next_try > now:
                return True
        if now < self._next_try:
            return False
        try:
            self.server.restart()
        except Exception as exc:  # any failure to start: try again later, said once per try
            pause = RETRY_S[min(self._failed_tries, len(RETRY_S) - 1)]
            self._failed_tries += 1
            self._next_try = self.clock() + pause
            self.status.state = "backing_off"
            self.status.last_error = str(exc)[:200]
            log.warning("embedded %s did not restart (%s); next try in %g s", self.label, self.status.last_error,
                        pause)
            return True
        self._failed_tries = 0
        self._in_a_row += 1
        self.status.state = "running"
        self.status.restarts += 1
        self.status.down_since = None
        self.status.last_error = ""
        self._up_since = self.clock()
        log.warning("embedded %s is back, %.1f s after it died (restart %d)", self.label,
                    self._up_since - self._down_at, self.status.restarts)
        return True


def states(keepers: dict[str, ServerKeeper]) -> dict[str, dict[str, Any]]:
    return {name: keeper.status.as_json() for name, keeper in keepers.items()}
