"""The recorder's writing side: a batch of entries into Postgres until it succeeds, waiting out an outage
with backoff, and halving a batch Postgres refuses until the entries at fault stand alone to be parked."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from checkin.config import Config
from checkin.consumers.group_reader import Fields, Item, RecorderStats
from checkin.consumers.metrics import RecorderMetrics
from checkin.consumers.scan_writer import Backoff, DataProblem, Stopped, classify, prepare, write_batch

log = logging.getLogger("checkin.consumers.recorder")  # one logger for the whole consumer
Park = Callable[[list[tuple[str, bytes, Fields, str]]], Awaitable[None]]


class BatchWriter:
    """`writers` Postgres connections, one transaction a batch each."""

    def __init__(self, config: Config, *, stats: RecorderStats, metrics: RecorderMetrics, park: Park,
                 stopping: asyncio.Event, writers: int = 2) -> None:
        self.config = config
        self.stats = stats
        self.metrics = metrics
        self.park = park  # where the entries Postgres refuses go (the dead-letter stream)
        self.stopping = stopping
        self.writers = writers
        self._conns: list[asyncpg.Connection | None] = [None] * writers
        self._pg_down = False

    async def _connection(self, writer: int) -> asyncpg.Connection:
        conn = self._conns[writer]
        if conn is None or conn.is_closed():
            conn = self._conns[writer] = await asyncpg.connect(self.config.postgres_url, timeout=10)
            await prepare(conn)
        return conn

    async def _write(self, items: list[Item], writer: int) -> dict[str, int]:
        """Write until it succeeds (Postgres may be down a while); DataProblem if the rows are at fault."""
        backoff = Backoff()
        while True:
            started = time.perf_counter()
            stages: dict[str, float] = {}
            try:
                conn = await self._connection(writer)
                durable = await write_batch(conn, [i.line for i in items], stages)
            except Exception as exc:  # noqa: BLE001 - classify decides: retry, split, or crash
                kind = classify(exc)
                self.metrics.postgres_errors.labels(kind).inc()
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if kind == "data":
                    raise DataProblem(self.stats.last_error) from exc
                if kind != "transient":
                    raise
                if not self._pg_down:
                    log.error("Postgres unavailable, holding %d entries and retrying: %s", len(items), exc)
                    self._pg_down = True
                broken = self._conns[writer]
                if broken is not None and not broken.is_closed():
                    broken.terminate()
                self._conns[writer] = None
                if self.stopping.is_set():
                    raise Stopped from exc  # unacknowledged: another consumer or a restart takes them
                await backoff.sleep(self.stopping)
                continue
            if self._pg_down:
                log.info("Postgres is back; writing again")
                self._pg_down = False
            for stage, spent in stages.items():
                self.stats.stages[stage] = self.stats.stages.get(stage, 0.0) + spent
            self.metrics.batch(len(items), time.perf_counter() - started, stages)
            return durable

    async def write(self, items: list[Item], writer: int) -> dict[str, int]:
        """Store the batch; return each device's durable watermark. A batch Postgres refuses is halved
        until the offending entries stand alone; those are parked and the rest is stored."""
        try:
            return await self._write(items, writer)
        except DataProblem as exc:
            if len(items) == 1:
                item = items[0]
                await self.park([(item.stream, item.entry_id, item.fields, f"postgres refused: {exc}")])
                return {}
            mid = len(items) // 2
            first = await self.write(items[:mid], writer)
            second = await self.write(items[mid:], writer)
            return {d: max(first.get(d, 0), second.get(d, 0)) for d in first.keys() | second.keys()}

    async def aclose(self) -> None:
        for conn in self._conns:
            if conn is not None and not conn.is_closed():
                await conn.close()
