"""What the parts underneath can do on this machine: the scan script, XADD and COPY at full speed.

The gateway's figures are read as fractions of these. A bare RESP client (asyncio streams and the
hiredis parser) keeps the client's own cost near 8 µs a command, so the server is what is measured.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import asyncpg
import hiredis
import redis.asyncio as aioredis

import checkin.events.store as events
from checkin.access.accounts import enroll_device
from checkin.keys import EventKeys, Keys
from checkin.scan.script import SCRIPT, ScanCall
from checkin.tokens import token_hash

PIPELINE = 1000


class RespPipe:
    """One connection; commands go out a thousand at a time, each chunk's replies read back in full."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, url: str) -> RespPipe:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 6379)
        pipe = cls(reader, writer)
        # The embedded Valkey asks for a password (and a URL may pick a database): as the URL says.
        hello: list[bytes] = []
        if parts.password:
            auth = [parts.username, parts.password] if parts.username else [parts.password]
            hello.append(hiredis.pack_command(("AUTH", *(unquote(a) for a in auth))))
        if parts.path.strip("/"):
            hello.append(hiredis.pack_command(("SELECT", parts.path.strip("/"))))
        for reply in await pipe.run(hello):
            if isinstance(reply, hiredis.ReplyError):
                await pipe.close()
                raise reply
        return pipe

    async def run(self, commands: list[bytes]) -> list[object]:
        replies: list[object] = []
        parser = hiredis.Reader()
        for i in range(0, len(commands), PIPELINE):
            chunk = commands[i:i + PIPELINE]
            self.writer.write(b"".join(chunk))
            want = len(replies) + len(chunk)
            while len(replies) < want:
                parser.feed(await self.reader.read(1 << 17))
                while (reply := parser.gets()) is not False:
                    replies.append(reply)
        return replies

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def scan_commands(ev: EventKeys, device_id: str, token: str, gate_id: str, card_ids: list[str],
                  start_ms: int, rounds: int, first_seq: int = 1, script: str = SCRIPT) -> Iterator[bytes]:
    """EVALSHA calls of the scan script (or a variant of it): every card scanned `rounds` times, two hours apart."""
    sha = hashlib.sha1(script.encode()).hexdigest()
    seq = first_seq
    for r in range(rounds):
        for i, card_id in enumerate(card_ids):
            at = start_ms + r * 7_200_000 + i
            call = ScanCall(event_id=ev.event_id, scan_id=str(uuid.uuid4()), device_id=device_id,
                            token_hash=token_hash(token), gate_id=gate_id, seq=seq, card_id=card_id,
                            card_reason="", online=False, device_at_ms=at, received_ms=int(time.time() * 1000))
            seq += 1
            keys = call.keys(ev)
            yield hiredis.pack_command(("EVALSHA", sha, len(keys), *keys, *call.args(1_000_000_000)))


async def _delete_prefix(redis: aioredis.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=f"{prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            await redis.unlink(*batch)
            batch = []
    if batch:
        await redis.unlink(*batch)


async def evalsha_rate(conn: asyncpg.Connection, redis: aioredis.Redis, redis_url: str, event_id: str,
                       gate_id: str, card_ids: list[str], calls: int,
                       script: str = SCRIPT) -> dict[str, float]:
    """The scan script pipelined on a scratch copy of the event (its own key prefix), then removed, from a
    kiosk enrolled at `gate_id` for the purpose (a device scans only at its own gate)."""
    prefix = f"benchref-{secrets.token_hex(3)}"
    keys = Keys(prefix)
    await events.load_event(conn, redis, keys, event_id)
    await redis.script_load(script)
    device_id, token = await enroll_device(conn, redis, keys, event_id, gate_id, "reference kiosk")
    cards = card_ids[: max(1, calls // 2)]
    start = int(datetime(2024, 2, 5, 1, tzinfo=UTC).timestamp() * 1000)
    commands = list(scan_commands(keys.event(event_id), device_id, token, gate_id, cards, start,
                                  max(1, calls // len(cards)), script=script))
    pipe = await RespPipe.connect(redis_url)
    try:
        began = time.perf_counter()
        replies = await pipe.run(commands)
        seconds = time.perf_counter() - began
    finally:
        await pipe.close()
        await _delete_prefix(redis, prefix)
    errors = sum(1 for r in replies if isinstance(r, hiredis.ReplyError))
    ok = sum(1 for r in replies if isinstance(r, list) and r and r[0] == b"ok")
    return {"calls": len(commands), "seconds": round(seconds, 3), "per_s": round(len(commands) / seconds),
            "ok": ok, "errors": errors}


async def xadd_rate(redis: aioredis.Redis, redis_url: str, entries: int) -> dict[str, float]:
    """XADD of scan-shaped entries (the script's 17 fields) to a scratch stream."""
    stream = f"benchref-{secrets.token_hex(3)}:{{x}}:scans"
    now = str(int(time.time() * 1000))
    commands = [hiredis.pack_command((
        "XADD", stream, "*", "scan_id", str(uuid.uuid4()), "dev", "DABCDEFGH", "seq", str(i), "gate", "huabo-desk1",
        "zone", "huabo", "card", "ABCDEFGH", "vol", "V000001", "team", "社會局關懷志工隊", "at", now,
        "dat", now, "rx", now, "verdict", "checked_in", "reason", "", "warn", "", "closes", "",
        "src", "device", "senior", "0")) for i in range(entries)]
    pipe = await RespPipe.connect(redis_url)
    try:
        began = time.perf_counter()
        await pipe.run(commands)
        seconds = time.perf_counter() - began
    finally:
        await pipe.close()
        await redis.unlink(stream)
    return {"entries": entries, "seconds": round(seconds, 3), "per_s": round(entries / seconds)}


def _scan_rows(count: int) -> list[tuple[object, ...]]:
    now = datetime.now(UTC)
    return [(uuid.uuid4(), "bench", f"D{i % 200:08d}", i, "huabo-desk1", f"C{i % 20000:07d}",
             f"V{i % 20000:06d}", now, None, now, "checked_in", None, [], None, "device", f"{i}-0")
            for i in range(count)]


COPY_COLUMNS = ["scan_id", "event_id", "device_id", "seq", "gate_id", "card_id", "volunteer_id", "scanned_at",
                "device_time", "received_at", "verdict", "reason", "warnings", "session_scan_id", "source",
                "stream_id"]


async def copy_rate(conn: asyncpg.Connection, rows: int) -> dict[str, float]:
    """COPY scan rows into a scratch table shaped and indexed like scans, and into a bare temp table."""
    records = _scan_rows(rows)
    table = f"bench_copy_{secrets.token_hex(3)}"
    out: dict[str, float] = {"rows": rows}
    try:
        await conn.execute(f"CREATE TABLE {table} (LIKE scans INCLUDING DEFAULTS INCLUDING INDEXES)")
        began = time.perf_counter()
        for i in range(0, rows, 5000):
            await conn.copy_records_to_table(table, records=records[i:i + 5000], columns=COPY_COLUMNS)
        out["indexed_per_s"] = round(rows / (time.perf_counter() - began))
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    await conn.execute(f"CREATE TEMP TABLE {table} (LIKE scans INCLUDING DEFAULTS)")
    try:
        began = time.perf_counter()
        await conn.copy_records_to_table(table, records=records, columns=COPY_COLUMNS)
        out["bare_temp_per_s"] = round(rows / (time.perf_counter() - began))
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    return out
