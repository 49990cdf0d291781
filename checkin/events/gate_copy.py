"""The gate copy: what an offline kiosk needs of its event to answer as the scan script would.

Per card: its roster record as Redis holds it (masked name, team, zone, insurance window, shifts, senior,
training flags; the attention notes `a` and `as` where any exists, checkin/events/notes.py), or revoked; a
card in neither is not on this event's roster. Per volunteer: presence (on site, since when, the last accepted scan, minutes served that day). And
the event's gate policy and gates. A kiosk takes a whole copy first, then deltas since the cursor each answer
gives it (gate_copy.lua); a whole part is read in chunks after the cursor was taken.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
import redis.asyncio as aioredis

from checkin.keys import EventKeys
from checkin.scan.script import kiosk_script

COPY_SCRIPT = kiosk_script((resources.files("checkin.events") / "lua" / "gate_copy.lua").read_text(encoding="utf-8"))
NOTE_SCRIPT = (resources.files("checkin.events") / "lua" / "note_cards.lua").read_text(encoding="utf-8")
# A delta reads at most this many stream entries; past it (a kiosk long away at a busy event) presence
# comes whole, which is smaller than walking the stream.
MAX_DELTA_ENTRIES = 20_000
SCAN_CHUNK = 2_000  # entries per HSCAN/SSCAN of a whole part: each call holds Redis about a millisecond
_CURSOR_RE = re.compile(r"^([0-9a-f]{16})\.(\d{1,15})\.(\d{1,15}-\d{1,15})\Z")
_POLICY_INTS = ("debounce_s", "shift_early_min", "shift_late_min", "clock_skew_s", "max_continuous_min",
                "max_daily_min", "senior_max_continuous_min", "senior_max_daily_min", "day_offset_min",
                "scan_from_ms", "scan_until_ms", "min_session_min", "confirm_s", "answer_min_ms")
# What the rules read of a presence record; the undo fields (pl, pcid, pcat) stay on the server.
_PRESENCE_FIELDS = ("on", "last", "cat", "z", "g", "dd", "dm", "cf")


class CopyRefused(Exception):
    """The device may not have the copy (code: unknown_device, bad_token, device_revoked)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class CopyUnloaded(Exception):
    """Redis does not hold the event (lost, being rebuilt)."""


@dataclass(frozen=True)
class Cursor:
    epoch: str
    version: int
    stream_id: str

    def text(self) -> str:
        return f"{self.epoch}.{self.version}.{self.stream_id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = _CURSOR_RE.match(text)
        if match is None:
            raise ValueError("not a gate copy cursor")
        return cls(match[1], int(match[2]), match[3])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def policy_from_meta(meta: dict[str, str]) -> dict[str, Any]:
    """The gate policy the scan script reads from the event's meta hash, typed for the kiosk's rules."""
    policy: dict[str, Any] = {"status": meta.get("status", ""), "insurance": meta.get("insurance", "warn"),
                              "tz": meta.get("tz", "")}
    for name in _POLICY_INTS:
        if name in meta:
            policy[name] = int(meta[name])
    return policy


def presence_for_copy(raw: bytes | str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    record = orjson.loads(raw)
    return {k: record[k] for k in _PRESENCE_FIELDS if k in record}


def _pairs(flat: list[Any]) -> dict[str, Any]:
    return {_text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}


async def read_gate_copy(redis: aioredis.Redis, ev: EventKeys, device_id: str, token_hash: str,
                         since: Cursor | None, max_entries: int = MAX_DELTA_ENTRIES) -> dict[str, Any]:
    """The copy (whole, or the delta since `since`) as the kiosk gets it, with the cursor for the next one.

    cards: card id -> roster record (an orjson.Fragment: the record's JSON passed on unparsed) or None (not on
    the roster); revoked: card id -> bool; presence: volunteer id -> record or None. `whole` says which parts
    replace what the kiosk holds rather than merge into it."""
    keys = [ev.meta, ev.roster, ev.revoked, ev.gates, ev.presence, ev.stream, ev.gate_copy, ev.gate_copy_changes,
            ev.devices]
    args: list[str | int] = [since.epoch if since else "", since.version if since else 0,
                             since.stream_id if since else "0-0", max_entries, secrets.token_hex(8), device_id,
                             token_hash]
    reply = await redis.eval(COPY_SCRIPT, len(keys), *keys, *args)
    status = _text(reply[0])
    if status == "unloaded":
        raise CopyUnloaded(ev.event_id)
    if status == "auth":
        raise CopyRefused(_text(reply[1]))
    epoch, version, last = _text(reply[1]), int(reply[2]), _text(reply[3])
    cards_whole, presence_whole = reply[4] == 1, reply[6] == 1
    cards: dict[str, Any] = {}
    revoked: dict[str, bool] = {}
    if cards_whole:
        # chunk by chunk: each call holds Redis about a millisecond (anything changed meanwhile comes again)
        async for card_id, raw in redis.hscan_iter(ev.roster, count=SCAN_CHUNK):
            cards[_text(card_id)] = orjson.Fragment(raw)
        async for card_id in redis.sscan_iter(ev.revoked, count=SCAN_CHUNK):
            revoked[_text(card_id)] = True
    else:
        flat = reply[5]
        for i in range(0, len(flat), 3):
            card = _text(flat[i])
            cards[card] = orjson.Fragment(flat[i + 1]) if flat[i + 1] else None
            revoked[card] = flat[i + 2] == 1
    if presence_whole:
        presence = {_text(vid): presence_for_copy(raw)
                    async for vid, raw in redis.hscan_iter(ev.presence, count=SCAN_CHUNK)}
    else:
        presence = {vid: presence_for_copy(raw) for vid, raw in _pairs(reply[7]).items()}
    meta = {k: _text(v) for k, v in _pairs(reply[8]).items()}
    gates = {gate: orjson.loads(raw) for gate, raw in _pairs(reply[9]).items()}
    return {
        "event_id": ev.event_id, "gate_id": _text(reply[10]) or None,
        "cursor": Cursor(epoch, version, last).text(),
        "whole": {"cards": cards_whole, "presence": presence_whole},
        "policy": policy_from_meta(meta), "event_name": meta.get("name", ""),
        "gates": {gate: {"z": g.get("z"), "m": g.get("m")} for gate, g in gates.items()},
        "cards": cards, "revoked": revoked, "presence": presence,
    }


def note_card_changes(pipe: Any, ev: EventKeys, card_ids: list[str]) -> None:
    """Queue, on a pipeline, the note that these cards' copy changed (after the writes that changed them)."""
    if card_ids:
        pipe.eval(NOTE_SCRIPT, 2, ev.gate_copy, ev.gate_copy_changes, *card_ids)
