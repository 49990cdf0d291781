"""Coordinators' dashboards: many websocket clients on the live server, timing scan-to-screen.

Each delta carries `last_received_ms`, the gateway's receive time of the newest scan it includes; the
moment the delta lands here minus that is the age of the freshest figure on the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import orjson
from websockets.asyncio.client import ClientConnection, connect


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
                data = orjson.loads(message)
                if data.get("type") == "snapshot":
                    self.stats.snapshots += 1
                elif data.get("type") == "delta":
                    self.stats.deltas += 1
                    if self.measuring and data.get("last_received_ms"):
                        self.stats.lag_ms.append(now_ms - data["last_received_ms"])
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
