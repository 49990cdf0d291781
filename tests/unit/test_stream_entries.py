import uuid

import pytest

from checkin.events.store import mask_name
from checkin.live.snapshot import apply_entry, shape
from checkin.streams import BadEntry, parse_entry
from checkin.tokens import bearer, make_device_token, parse_device_token


def _fields(**over: str) -> dict[bytes, bytes]:
    base = {"scan_id": str(uuid.uuid4()), "dev": "D1", "seq": "3", "gate": "g1", "zone": "main", "card": "C1",
            "vol": "V1", "team": "T", "at": "1675591200000", "dat": "1675591200000", "rx": "1675591200500",
            "verdict": "checked_in", "reason": "", "warn": "outside_shift,clock_skew", "closes": "", "src": "device",
            "senior": "1"}
    base.update(over)
    return {k.encode(): v.encode() for k, v in base.items()}


def test_entry_round_trip() -> None:
    entry = parse_entry("ev", b"1-0", _fields())
    assert entry.seq == 3 and entry.volunteer_id == "V1"
    assert entry.warnings == ["outside_shift", "clock_skew"]
    assert entry.device_at is None  # the same as the time it counts at
    assert entry.received_at.timestamp() == 1675591200.5


@pytest.mark.parametrize("bad", [{"scan_id": "nope"}, {"seq": "x"}, {"at": ""}, {"verdict": "maybe"}])
def test_bad_entries_raise_bad_entry(bad: dict[str, str]) -> None:
    with pytest.raises(BadEntry):
        parse_entry("ev", b"1-0", _fields(**bad))


def test_counters_follow_entries() -> None:
    counts: dict[str, int] = {}
    apply_entry(counts, _fields(), 0)
    apply_entry(counts, _fields(verdict="duplicate"), 0)
    assert shape(counts)["on_site"] == 1 and shape(counts)["zones"] == {"main": 1}
    assert shape(counts)["seniors_on_site"] == 1 and shape(counts)["duplicates"] == 1
    apply_entry(counts, _fields(verdict="checked_out"), 0)
    assert shape(counts)["on_site"] == 0 and shape(counts)["checked_out"] == 1


def test_names_are_masked_for_gate_screens() -> None:
    assert mask_name("陳小明") == "陳○明"
    assert mask_name("歐陽小明") == "歐○○明"
    assert mask_name("林") == "林"


def test_device_tokens_name_their_event_and_device() -> None:
    token = make_device_token("lantern2023", "DABC")
    parsed = parse_device_token(token.text)
    assert parsed is not None and parsed.event_id == "lantern2023" and parsed.device_id == "DABC"
    assert parse_device_token("a.b") is None
    assert parse_device_token("bad event.D1.x") is None
    assert bearer("Bearer abc") == "abc" and bearer("Basic abc") is None and bearer(None) is None
