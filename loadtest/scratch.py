"""Embedded PostgreSQL and Valkey in a scratch folder, for the benchmarks that need a system of their own and
leave nothing behind: the folder goes with them, whatever happens."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from checkin.servers import embedded_servers, free_port


@contextmanager
def scratch_servers(prefix: str) -> Iterator[tuple[Path, str, str]]:
    """(the scratch folder, a PostgreSQL URL, a Redis URL), all gone on exit."""
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as folder:
        scratch = Path(folder)
        with embedded_servers(scratch, postgres_url=None, redis_url=None, redis_port=free_port()) as (pg_url, redis_url):
            yield scratch, pg_url, redis_url
