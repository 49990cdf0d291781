"""The event scan stream: what an entry holds, and reading it back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from checkin.vocabulary import SCAN_FIELDS, Verdict

RECORDER_GROUP = "recorder"
TRIM_LIMIT = 200_000  # entries one XTRIM may drop


class BadEntry(ValueError):
    """A stream entry that cannot be a scan; it goes to the dead-letter stream."""


@dataclass(frozen=True)
class ScanEntry:
    stream_id: str
    event_id: str
    scan_id: uuid.UUID
    device_id: str
    seq: int
    gate_id: str
    zone: str
    card_id: str | None
    volunteer_id: str | None
    team: str
    at: datetime
    device_at: datetime | None
    received_at: datetime
    verdict: str
    reason: str | None
    warnings: list[str]
    closes: uuid.UUID | None
    source: str
    senior: bool
    operator: str = ""  # who scanned for the volunteer at the desk ('' for a card at a gate)


def _ms(value: bytes) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


VERDICTS = frozenset(v.value for v in Verdict)


def parse_entry(event_id: str, stream_id: bytes, fields: dict[bytes, bytes]) -> ScanEntry:
    """Decode one XADDed scan; raise BadEntry naming what is wrong."""
    try:
        at = _ms(fields[b"at"])
        device_at = _ms(fields[b"dat"]) if fields.get(b"dat") else None
        closes = fields.get(b"closes") or b""
        warn = fields.get(b"warn") or b""
        verdict = fields[b"verdict"].decode()
        if verdict not in VERDICTS:
            raise BadEntry(f"unknown verdict {verdict!r}")
        return ScanEntry(
            stream_id=stream_id.decode(),
            event_id=event_id,
            scan_id=uuid.UUID(fields[b"scan_id"].decode()),
            device_id=fields[b"dev"].decode(),
            seq=int(fields[b"seq"]),
            gate_id=fields[b"gate"].decode(),
            zone=(fields.get(b"zone") or b"").decode(),
            card_id=(fields.get(b"card") or b"").decode() or None,
            volunteer_id=(fields.get(b"vol") or b"").decode() or None,
            team=(fields.get(b"team") or b"").decode(),
            at=at,
            device_at=device_at if device_at != at else None,
            received_at=_ms(fields[b"rx"]),
            verdict=verdict,
            reason=(fields.get(b"reason") or b"").decode() or None,
            warnings=warn.decode().split(",") if warn else [],
            closes=uuid.UUID(closes.decode()) if closes else None,
            source=(fields.get(b"src") or b"device").decode(),
            senior=fields.get(b"senior") == b"1",
            operator=(fields.get(b"op") or b"").decode(),
        )
    except BadEntry:
        raise
    except (KeyError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise BadEntry(f"{type(exc).__name__}: {exc}") from None


def _ms_text(value: datetime) -> bytes:
    return str(int(value.timestamp() * 1000)).encode()


def encode_entry(e: ScanEntry) -> dict[bytes, bytes]:
    """The fields the scan script XADDs for this scan, in SCAN_FIELDS order (its Python twin)."""
    values = {
        "scan_id": str(e.scan_id), "dev": e.device_id, "seq": str(e.seq), "gate": e.gate_id, "zone": e.zone,
        "card": e.card_id or "", "vol": e.volunteer_id or "", "team": e.team, "verdict": e.verdict,
        "reason": e.reason or "", "warn": ",".join(e.warnings), "closes": str(e.closes) if e.closes else "",
        "src": e.source, "senior": "1" if e.senior else "0", "op": e.operator,
    }
    times = {"at": _ms_text(e.at), "dat": _ms_text(e.device_at or e.at), "rx": _ms_text(e.received_at)}
    return {f.encode(): times[f] if f in times else values[f].encode() for f in SCAN_FIELDS}


def id_ms(entry_id: bytes | str) -> int:
    """The millisecond time part of a stream id."""
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.split("-", 1)[0])


def _after(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Backlog:
    """Where one consumer group stands on one stream."""

    length: int  # entries in the stream
    pending: int  # read by a consumer, not yet acknowledged
    oldest_pending_id: str | None
    unread: int  # not yet delivered to any consumer of the group
    next_unread_id: str | None
    keep_from: str  # the lowest id this group may still need; everything below it is acknowledged

    def oldest_outstanding_ms(self) -> int | None:
        """Time of the oldest entry not yet written (pending or unread), None when caught up."""
        ids = [i for i in (self.oldest_pending_id, self.next_unread_id) if i]
        return min(id_ms(i) for i in ids) if ids else None


async def group_backlogs(redis: aioredis.Redis, stream: str) -> dict[str, Backlog]:
    """Every consumer group of the stream, with its pending and unread entries."""
    length = int(await redis.xlen(stream))
    if not length and not await redis.exists(stream):
        return {}
    out: dict[str, Backlog] = {}
    for info in await redis.xinfo_groups(stream):
        name, last = _text(info["name"]), _text(info["last-delivered-id"])
        summary = await redis.xpending(stream, name)
        pending = int(summary["pending"])
        oldest = _text(summary["min"]) if pending else None
        nxt = await redis.xrange(stream, min=f"({last}", count=1) if last != "0-0" else \
            await redis.xrange(stream, count=1)
        next_id = _text(nxt[0][0]) if nxt else None
        lag = info.get("lag")
        unread = int(lag) if lag is not None else (length if next_id else 0)
        out[name] = Backlog(length, pending, oldest, unread, next_id, oldest or _after(last))
    return out


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def trim_floor(backlogs: dict[str, Backlog], *, keep_ms: int, now_ms: int) -> str | None:
    """The MINID below which every group has acknowledged every entry and which is older than
    now - keep_ms (a margin for readers outside the groups, such as the live server). None
    when the stream has no group: an entry no group has read is an entry nobody stored."""
    if not backlogs:
        return None
    floor = min((b.keep_from for b in backlogs.values()), key=_id_key)
    return min(floor, f"{max(now_ms - keep_ms, 0)}-0", key=_id_key)


async def trim_acknowledged(redis: aioredis.Redis, stream: str, backlogs: dict[str, Backlog], *,
                            keep_ms: int, now_ms: int) -> str | None:
    """Trim the stream below trim_floor; returns the MINID used."""
    minid = trim_floor(backlogs, keep_ms=keep_ms, now_ms=now_ms)
    if minid is not None:
        # approximate: whole radix-tree nodes only, never an entry at or above minid; the
        # explicit limit replaces the default (100 nodes a call), too small to keep up with a
        # fast drain, while still bounding how long one call holds the server
        await redis.xtrim(stream, minid=minid, approximate=True, limit=TRIM_LIMIT)
    return minid
