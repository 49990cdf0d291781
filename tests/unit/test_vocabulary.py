"""One vocabulary: the scan script, the recorder's parser and the stream's Python twin use the same fields
and words as checkin.vocabulary."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from importlib import resources

from checkin.consumers import scan_writer
from checkin.scan import rules
from checkin.streams import ScanEntry, encode_entry, parse_entry
from checkin.vocabulary import SCAN_FIELDS, Reason, Verdict, Warning

LUA = (resources.files("checkin.scan") / "lua" / "scan.lua").read_text(encoding="utf-8")


def _xadd_fields() -> list[str]:
    """The field names of the scan script's XADD, in order (every other argument after '*')."""
    call = re.search(r"redis\.call\('XADD',\s*KEYS\[\d+\],\s*'\*',(.*?)\)\n", LUA, re.S)
    assert call, "the scan script has no XADD of the scan"
    args = [a.strip() for a in call.group(1).split(",")]
    names = args[0::2]
    assert all(re.fullmatch(r"'\w+'", n) for n in names), names
    return [n.strip("'") for n in names]


def test_the_scan_script_writes_scan_fields_in_order() -> None:
    assert _xadd_fields() == list(SCAN_FIELDS)


def test_the_recorder_fast_path_expects_scan_fields() -> None:
    assert [f.decode() for f in scan_writer._SCRIPT_ORDER] == list(SCAN_FIELDS)
    assert {f.decode() for f in scan_writer._FIELDS} <= set(SCAN_FIELDS)


def test_the_python_twin_writes_and_reads_every_field() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    entry = ScanEntry(stream_id="1-0", event_id="ev", scan_id=uuid.uuid4(), device_id="D1", seq=3, gate_id="g",
                      zone="z", card_id="C", volunteer_id="V", team="T", at=now, device_at=None, received_at=now,
                      verdict=Verdict.CHECKED_IN, reason=None, warnings=[Warning.OUTSIDE_SHIFT], closes=None,
                      source="live", senior=True, operator="U1")
    fields = encode_entry(entry)
    assert [f.decode() for f in fields] == list(SCAN_FIELDS)
    assert parse_entry("ev", b"1-0", fields) == entry


def test_the_rules_speak_the_vocabulary() -> None:
    assert (rules.CHECKED_IN, rules.CHECKED_OUT, rules.DUPLICATE, rules.REJECTED) == tuple(Verdict)
    for word in (rules.REVOKED, rules.NOT_ON_ROSTER, rules.DEBOUNCE, rules.WRONG_GATE):
        assert word in set(Reason)
    pairs = re.findall(r"verdict, reason = '(\w+)', '(\w+)'", LUA)
    assert len(pairs) >= 8
    for verdict, reason in pairs:
        assert verdict in set(Verdict) and reason in set(Reason), f"scan.lua says {verdict}/{reason}"
    for verdict in re.findall(r"verdict = '(\w+)'", LUA):
        assert verdict in set(Verdict), f"scan.lua says {verdict}"
