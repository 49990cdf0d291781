"""Coordinators' dashboards: many websocket clients on the live server, timing scan-to-screen.

Each delta carries `last_received_ms`, the gateway's receive time of the newest scan it includes; the
moment the delta lands here minus that is the age of the freshest figure on the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

# The live hub writes the head first: {"type":"delta","stream_id":"...","server_ms":N,"last_received_ms":N,"view":...}.
_HEAD = re.compile(rb'\{"type":"(\w+)"(?:,"stream_id":"[0-9-]*","server_ms":\d+,"last_received_ms":(\d+))?')


def message_head(message: str | bytes) -> tuple[str, int]:
    """A message's type and, for a delta, its `last_received_ms`, read from its head alone: a thousand clients
    in one Python process decoding every delta's whole view timed this process, not the live server."""
    raw = message.encode() if isinstance(message, str) else message
    head = _HEAD.match(raw)
    if head is None:  # not the hub's shape (tests/unit/test_ws_watch.py holds the two together)
        return "", 0
    return head.group(1).decode(), int(head.group(2) or 0)


@dataclass
class WatchStats:
    clients: int = 0
    connect_failures: int = 0
    snapshots: int = 0
    deltas: int = 0
    lag_ms: list[float] = field(default_factory=list)
    disconnects: int = 0


class Dashboards:
    def __init__(self, url: str, clients: int) -> None:
        self.url = url
        self.wanted = clients
        self.stats = WatchStats()
        self.measuring = False
        self._conns: list[ClientConnection] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def _listen(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now_ms = time.time() * 1000
                kind, received_ms = message_head(message)
                if kind == "snapshot":
                    self.stats.snapshots += 1
                elif kind == "delta":
                    self.stats.deltas += 1
                    if self.measuring and received_ms:
                        self.stats.lag_ms.append(now_ms - received_ms)
        except Exception:
            self.stats.disconnects += 1

    async def open(self, parallel: int = 50) -> None:
        """Connect every client (a few dozen handshakes at a time) and start listening."""
        gate = asyncio.Semaphore(parallel)

        async def one() -> None:
            async with gate:
                try:
                    ws = await connect(self.url, open_timeout=30, max_size=1 << 20)
                except Exception:
                    self.stats.connect_failures += 1
                    return
                self._conns.append(ws)
                self._tasks.append(asyncio.create_task(self._listen(ws)))

        await asyncio.gather(*(one() for _ in range(self.wanted)))
        self.stats.clients = len(self._conns)

    async def close(self) -> None:
        for ws in self._conns:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
