"""Servers of the fault suite's own (see system.py): started per module, stopped at the end."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from checkin.db import migrate
from tests.faults.system import FaultySystem


@pytest.fixture(scope="module")
def faulty_system(request: pytest.FixtureRequest) -> Iterator[FaultySystem]:
    root = Path(tempfile.mkdtemp(prefix="checkin-faults-"))
    system = FaultySystem(root)
    try:
        system.start_servers()

        async def migrated() -> None:
            conn = await asyncpg.connect(system.postgres_url)
            try:
                await migrate(conn)
            finally:
                await conn.close()

        asyncio.run(migrated())
        yield system
    finally:
        system.stop()
        module = request.module.__name__.rsplit(".", 1)[-1]
        logs = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults-logs" / module
        shutil.rmtree(logs, ignore_errors=True)
        shutil.copytree(system.logs, logs)  # the processes' own story, for when the table says no
        shutil.rmtree(root, ignore_errors=True)
