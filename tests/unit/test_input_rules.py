"""Input rules found by the security review (issue 17): whole-string ids, direction controls in names,
phone searches that reveal no more than six digits, NUL found anywhere in a body, the admin token shown once."""

from __future__ import annotations

import re

import pytest

from checkin.access.operations import PIN_RE, phone_key
from checkin.cards.format import _CARD_RE
from checkin.cards.links import TOKEN_RE
from checkin.certificates.content import CERT_ID_RE
from checkin.cli.supervisor import banner
from checkin.config import from_env
from checkin.events.plan import ID_RE
from checkin.events.store import mask_name
from checkin.gateway.inputs import nul_path
from checkin.gateway.models.device import CODE_PATTERN
from checkin.gateway.scan_request import _GATE_RE
from checkin.keys import EVENT_ID_RE
from checkin.pii import _ID_RE as NATIONAL_ID_RE
from checkin.roster.csv import _ID_RE, _PHONE_RE, parse_roster

_CODE_RE = re.compile(CODE_PATTERN)  # the enrolment model's pattern, as msgspec applies it (re.search)

GOOD = {EVENT_ID_RE: "evtd", ID_RE: "gate-1", _GATE_RE: "gate-1", _ID_RE: "V1", _PHONE_RE: "0912345678",
        PIN_RE: "2468", _CODE_RE: "A" * 12, TOKEN_RE: "A" * 40, CERT_ID_RE: "A" * 20, NATIONAL_ID_RE: "A123456789",
        _CARD_RE: "VC1.KAAA.AAAAAAAA." + "A" * 103}


@pytest.mark.parametrize("pattern", list(GOOD), ids=lambda p: p.pattern[:24])
def test_an_id_with_a_trailing_newline_is_refused(pattern: re.Pattern[str]) -> None:
    good = GOOD[pattern]
    assert pattern.match(good)
    assert not pattern.match(good + "\n") and not pattern.fullmatch(good + "\n")


HEADER = "志工編號,姓名,志工隊,運用單位"


@pytest.mark.parametrize("column,line", [
    ("姓名", "V1,\u202e明小陳,A隊,社會局"), ("姓名", "V1,陳\u2066小明,A隊,社會局"), ("志工隊", "V1,陳小明,\u200fA隊,社會局"),
    ("運用單位", "V1,陳小明,A隊,社\u202d會局"), ("姓名", "V1,陳\x07小明,A隊,社會局"),
])
def test_a_roster_with_direction_or_control_characters_is_refused(column: str, line: str) -> None:
    parsed = parse_roster(f"{HEADER}\r\n{line}\r\n".encode())
    assert not parsed.ok and [p.column for p in parsed.problems] == [column]
    assert "U+" in parsed.problems[0].message


def test_a_name_stored_with_a_direction_control_is_shown_without_it() -> None:
    assert mask_name("\u202e陳小明") == "陳○明"
    assert mask_name("陳小\u202e明") == "陳○明"
    assert mask_name("陳小明") == "陳○明"


@pytest.mark.parametrize("query,key", [
    ("345678", "345678"), ("0912-345-678", "345678"), ("0912 345 678", "345678"), ("12345678", "345678"),
    ("45678", None), ("678", None), ("３４５６７８", None), ("陳小明", None), ("V-0001", None),
])
def test_a_phone_search_uses_exactly_the_last_six_digits(query: str, key: str | None) -> None:
    assert phone_key(query) == key


@pytest.mark.parametrize("body,where", [
    ({"q": "a\x00"}, "q"), ({"scans": [{"gate_id": "ok"}, {"gate_id": "g\x00"}]}, "scans[1].gate_id"),
    ({"volunteer_ids": ["V1", "V\x002"]}, "volunteer_ids[1]"), ({"a\x00": 1}, "a\x00"), ("\x00", "body"),
    ({"fine": ["text", 1, None, {"deep": "ok"}]}, None),
])
def test_nul_is_found_anywhere_in_a_body(body: object, where: str | None) -> None:
    assert nul_path(body) == where


def test_the_admin_token_is_shown_only_when_it_is_made(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = from_env({"CHECKIN_DATA_DIR": str(tmp_path)})
    demo = {"event_id": "lantern2023", "gate_id": "huabo-desk", "device_token": "D.t", "coordinator_token": "C.t",
            "admin_token": "Uadmin.secret-admin-token", "cards": [["陳小明", "VC1.X"]]}
    first = banner(config, {**demo, "made_now": True})
    assert "Uadmin.secret-admin-token" in first and str(tmp_path / "demo.json") in first
    later = banner(config, {**demo, "made_now": False})
    assert "Uadmin.secret-admin-token" not in later and str(tmp_path / "demo.json") in later
