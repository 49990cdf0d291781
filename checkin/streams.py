"""The event scan stream: what an entry holds, and reading it back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

RECORDER_GROUP = "recorder"


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


def _ms(value: bytes) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def parse_entry(event_id: str, stream_id: bytes, fields: dict[bytes, bytes]) -> ScanEntry:
    """Decode one XADDed scan; raise BadEntry naming what is wrong."""
    try:
        at = _ms(fields[b"at"])
        device_at = _ms(fields[b"dat"]) if fields.get(b"dat") else None
        closes = fields.get(b"closes") or b""
        warn = fields.get(b"warn") or b""
        verdict = fields[b"verdict"].decode()
        if verdict not in ("checked_in", "checked_out", "duplicate", "rejected"):
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
        )
    except BadEntry:
        raise
    except (KeyError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise BadEntry(f"{type(exc).__name__}: {exc}") from None
