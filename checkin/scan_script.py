"""The per-scan Lua call: its keys and arguments in, a typed outcome out."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import orjson

from checkin.keys import EventKeys

SCRIPT = (resources.files("checkin") / "lua" / "scan.lua").read_text(encoding="utf-8")
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

    def keys(self, ev: EventKeys) -> list[str]:
        return [ev.meta, ev.roster, ev.revoked, ev.gates, ev.devices, ev.presence, ev.counts, ev.stream,
                ev.durable, ev.answer(self.scan_id)]

    def args(self, max_backlog: int) -> list[str | int]:
        return [self.scan_id, self.device_id, self.token_hash, self.gate_id, self.seq, self.card_id,
                self.card_reason, "1" if self.online else "0", self.device_at_ms, self.received_ms, ",".join(self.warnings),
                self.mode, self.source, max_backlog, ANSWER_TTL_S, self.operator]


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


class AuthRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Backlogged(Exception):
    """The event's stream is past its configured backlog: the client must retry later."""


class EventUnloaded(Exception):
    """Redis has no state for the event (it lost its data); it is being rebuilt from Postgres."""


def decode_result(raw: list[bytes]) -> ScanAnswer:
    status = raw[0].decode()
    if status == "unloaded":
        raise EventUnloaded()
    if status == "auth":
        raise AuthRefused(raw[1].decode())
    if status == "busy":
        raise Backlogged()
    verdict, reason, warn, vid, name, team, minutes, on_site, at_ms = orjson.loads(raw[1])[:9]
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
    )
