"""The per-scan Lua call: its keys and arguments in, a typed outcome out."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import orjson

from checkin.keys import EventKeys

_DEVICE_CHECK = (resources.files("checkin.scan") / "lua" / "device.lua").read_text(encoding="utf-8")


def kiosk_script(text: str) -> str:
    """A Lua script a kiosk calls, with the device check it uses put first (a script is sent to Redis whole)."""
    return _DEVICE_CHECK + text


SCRIPT = kiosk_script((resources.files("checkin.scan") / "lua" / "scan.lua").read_text(encoding="utf-8"))
ANSWER_TTL_S = 48 * 3600


@dataclass(frozen=True)
class ScanCall:
    """One scan as the Lua script takes it."""

    event_id: str
    scan_id: str
    device_id: str
    token_hash: str
    gate_id: str
    seq: int
    card_id: str
    card_reason: str  # "" when the card verified
    online: bool  # sent live (the server clock wins on skew) rather than replayed from a journal
    device_at_ms: int
    received_ms: int
    warnings: tuple[str, ...] = ()
    mode: str = ""
    source: str = "device"  # device, manual (a coordinator for a volunteer without a card) or group (a team lead)
    operator: str = ""  # the user who scanned on the volunteer's behalf
    roster_record: str = ""  # manual only: the volunteer's roster record, for one whose card does not work

    def keys(self, ev: EventKeys) -> list[str]:
        return [ev.meta, ev.roster, ev.revoked, ev.gates, ev.devices, ev.presence, ev.counts, ev.stream,
                ev.durable, ev.answer(self.scan_id)]

    def args(self, max_backlog: int) -> list[str | int]:
        return [self.scan_id, self.device_id, self.token_hash, self.gate_id, self.seq, self.card_id,
                self.card_reason, "1" if self.online else "0", self.device_at_ms, self.received_ms, ",".join(self.warnings),
                self.mode, self.source, max_backlog, ANSWER_TTL_S, self.operator, self.roster_record]


@dataclass(frozen=True)
class ScanAnswer:
    verdict: str
    reason: str | None
    warnings: list[str]
    volunteer_id: str | None
    display_name: str
    team: str
    session_minutes: int | None
    on_site: int
    at_ms: int
    durable_seq: int
    replay: bool
    # A duplicate's volunteer's last accepted scan (None otherwise, or from an answer stored before these fields).
    last_ms: int | None = None
    last_checked_in: bool = False
    note: str | None = None  # a check-in's attention note (checkin/events/notes.py)


class AuthRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ScanRefused(Exception):
    """The script stored nothing for this scan: a rules.py refusal code (and, for a gate, the enrolled one)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


class Backlogged(Exception):
    """The event's stream is past its configured backlog: the client must retry later."""


class EventUnloaded(Exception):
    """Redis has no state for the event (it lost its data); it is being rebuilt from Postgres."""


class GarbledReply(Exception):
    """Redis answered the scan call with something the script never returns: a cut, corrupted or foreign
    reply. The scan's fate is unknown, so the client keeps it and retries (an idempotent replay)."""


def decode_result(raw: object) -> ScanAnswer:
    """The script's reply as a typed answer; GarbledReply for any reply of another shape."""
    try:
        return _decode(raw)  # type: ignore[arg-type]  # checked by what it raises
    except (IndexError, KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise GarbledReply(f"{type(exc).__name__} on a reply starting {repr(raw)[:60]}") from None


def _decode(raw: list[bytes]) -> ScanAnswer:
    if not isinstance(raw, list):
        raise TypeError("not an array")
    status = raw[0].decode()
    if status == "unloaded":
        raise EventUnloaded()
    if status == "auth":
        raise AuthRefused(raw[1].decode())
    if status == "busy":
        raise Backlogged()
    if status == "refused":
        raise ScanRefused(raw[1].decode(), raw[2].decode())
    if status not in ("ok", "replay"):
        raise ValueError(f"status {status!r}")
    fields = orjson.loads(raw[1])
    verdict, reason, warn, vid, name, team, minutes, on_site, at_ms = fields[:9]
    last_ms, last_in = fields[12:14] if len(fields) >= 14 else (-1, 0)
    note = fields[14] if len(fields) >= 15 else ""
    if not all(isinstance(text, str) for text in (verdict, reason, warn, vid, name, team, note)) or not verdict:
        raise TypeError("a text field is not text")
    return ScanAnswer(
        verdict=verdict,
        reason=reason or None,
        warnings=warn.split(",") if warn else [],
        volunteer_id=vid or None,
        display_name=name,
        team=team,
        session_minutes=int(minutes) if minutes >= 0 else None,
        on_site=int(on_site),
        at_ms=int(at_ms),
        durable_seq=int(raw[2]),
        replay=status == "replay",
        last_ms=int(last_ms) if last_ms >= 0 else None,
        last_checked_in=last_in == 1,
        note=note or None,
    )
