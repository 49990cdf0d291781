"""One event's live picture in a live-server process, and its fan-out to coordinators.

One reader follows the stream for every subscriber of the event; a tick (200 ms) looks at what
changed and sends each group of subscribers (same zone/team scope) only the sections that differ
from what that group was last sent. Sections carry absolute values, so a reset is just a snapshot.
A subscriber that does not keep up has a small queue; when it is full the queue is replaced by one
fresh snapshot, and a subscriber that stays stalled is dropped (it reconnects and resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import asyncpg
import orjson
import redis.asyncio as aioredis

from checkin.keys import EventKeys
from checkin.live.build import build_state
from checkin.live.roster import load_roster
from checkin.live.view import WHOLE_EVENT, LiveState, Scope

log = logging.getLogger(__name__)
CLIENT_QUEUE = 8  # messages; at 5 a second that is under two seconds of falling behind
MAX_RESETS_BEHIND = 5  # snapshots in a row a subscriber did not take before it is dropped
REFRESH_MS = 5_000  # look even when nothing arrived: scan rate decays, shifts start, the service day turns
BEAT_MS = 5_000  # a quiet connection still hears from the server this often
ROSTER_S = 300.0
# XREAD's reply with decode_responses off: (stream, [(entry id, fields), ...]) per stream, None on timeout
_XRead = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None


def now_ms() -> int:
    return int(time.time() * 1000)


class Subscriber:
    def __init__(self, scope: Scope, on_drop: Callable[[], None] | None = None) -> None:
        self.scope = scope
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(CLIENT_QUEUE)
        self.resets = 0
        self.behind = 0  # resets since it last took a message
        self.dropped = False
        self.on_drop = on_drop

    async def next(self) -> bytes:
        message = await self.queue.get()
        self.behind = 0
        return message


class Group:
    """Subscribers with one scope, and what they have all been sent so far."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.subscribers: set[Subscriber] = set()
        self.view: dict[str, Any] = {}
        self.raw: dict[str, bytes] = {}
        self.stream_id = "0-0"
        self.sent_ms = 0


class EventHub:
    def __init__(self, redis: aioredis.Redis, pool: asyncpg.Pool, ev: EventKeys, tick_s: float = 0.2) -> None:
        self.redis = redis
        self.pool = pool
        self.ev = ev
        self.tick_s = tick_s
        self.state: LiveState | None = None
        self.groups: dict[Scope, Group] = {}
        self.resets = 0  # snapshots sent in place of a backlog
        self.dropped = 0  # subscribers cut off for staying stalled
        self.on_sent: Callable[[float], None] | None = None  # told each new scan's seconds from stream to delta
        self._sent_rx_ms = 0
        self._seen_changes = -1
        self._looked_ms = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Raise LookupError when the event does not exist."""
        state = await build_state(self.pool, self.redis, self.ev, now_ms())
        if state is None:
            raise LookupError(f"no event {self.ev.event_id!r}")
        self.state = state
        self._sent_rx_ms = state.last_received_ms  # scans replayed at start were sent by whoever ran before
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._tick()),
                       asyncio.create_task(self._refresh_roster())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def live(self) -> LiveState:
        assert self.state is not None, "start() first"
        return self.state

    def _snapshot(self, group: Group) -> bytes:
        return orjson.dumps({"type": "snapshot", "event_id": self.ev.event_id, "event_name": self.live.roster.name,
                             "tz": self.live.roster.tz,
                             "stream_id": group.stream_id, "scope": group.scope.as_json(), "server_ms": now_ms(),
                             "view": group.view})

    def subscribe(self, scope: Scope = WHOLE_EVENT, on_drop: Callable[[], None] | None = None) -> Subscriber:
        group = self.groups.get(scope)
        if group is None:
            group = self.groups[scope] = Group(scope)
            self._look(group, now_ms())
        sub = Subscriber(scope, on_drop)
        sub.queue.put_nowait(self._snapshot(group))
        group.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        group = self.groups.get(sub.scope)
        if group is not None:
            group.subscribers.discard(sub)
            if not group.subscribers:
                del self.groups[sub.scope]

    async def _read(self) -> None:
        while True:
            try:
                reply = cast(_XRead, await self.redis.xread({self.ev.stream: self.live.stream_id}, count=1000,
                                                            block=1000))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: keep the picture, try again shortly
                log.warning("live reader for %s: %s", self.ev.event_id, exc)
                await asyncio.sleep(1)
                continue
            for _, messages in reply or []:
                for entry_id, fields in messages:
                    self.live.apply(entry_id.decode(), fields)

    async def _refresh_roster(self) -> None:
        """Shifts and assignments change during an event; the picture is measured against the latest."""
        while True:
            await asyncio.sleep(ROSTER_S)
            try:
                roster = await load_roster(self.pool, self.ev.event_id)
            except Exception as exc:  # Postgres away: the old roster still measures well enough
                log.warning("roster refresh for %s: %s", self.ev.event_id, exc)
                continue
            if roster is not None:
                self.live.roster = roster
                self.live.changes += 1

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.tick(now_ms())
            except Exception:  # never let one bad view stop the event's updates
                log.exception("live tick for %s", self.ev.event_id)

    def tick(self, now: int) -> None:
        """Coalesce: everything that arrived since the last tick goes out as at most one message."""
        state = self.live
        if state.changes != self._seen_changes or now - self._looked_ms >= REFRESH_MS:
            self._seen_changes = state.changes
            self._looked_ms = now
            for group in list(self.groups.values()):
                self._look(group, now)
        for group in list(self.groups.values()):
            if now - group.sent_ms >= BEAT_MS:
                self._send(group, orjson.dumps({"type": "beat", "stream_id": group.stream_id, "server_ms": now}),
                           now)

    def _look(self, group: Group, now: int) -> None:
        view = self.live.view(now, group.scope)
        changed: dict[str, Any] = {}
        for name, value in view.items():
            raw = orjson.dumps(value)
            if raw != group.raw.get(name):
                group.raw[name] = raw
                changed[name] = value
        group.view = view
        group.stream_id = self.live.stream_id
        if changed and group.subscribers:
            self._send(group, orjson.dumps({"type": "delta", "stream_id": group.stream_id, "server_ms": now,
                                            "last_received_ms": self.live.last_received_ms, "view": changed}), now)
            received = self.live.last_received_ms
            if received > self._sent_rx_ms:  # once per newest scan, not once per group that shows it
                self._sent_rx_ms = received
                if self.on_sent is not None:
                    self.on_sent(max(0, now - received) / 1000)

    def _send(self, group: Group, message: bytes, now: int) -> None:
        group.sent_ms = now
        for sub in list(group.subscribers):
            self._offer(group, sub, message)

    def _offer(self, group: Group, sub: Subscriber, message: bytes) -> None:
        if sub.dropped:
            return
        try:
            sub.queue.put_nowait(message)
            return
        except asyncio.QueueFull:
            pass
        # Behind: what it has not read is replaced by one snapshot that covers all of it.
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.resets += 1
        sub.behind += 1
        self.resets += 1
        if sub.behind > MAX_RESETS_BEHIND:
            sub.dropped = True
            self.dropped += 1
            group.subscribers.discard(sub)
            if sub.on_drop is not None:
                sub.on_drop()
            return
        sub.queue.put_nowait(self._snapshot(group))

    def info(self) -> dict[str, Any]:
        return {"event_id": self.ev.event_id, "stream_id": self.live.stream_id,
                "clients": sum(len(g.subscribers) for g in self.groups.values()), "groups": len(self.groups),
                "resets": self.resets, "dropped": self.dropped}
