"""Certificates without servers: what one says, its canonical bytes and fingerprint, and its standing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from checkin.certificates.content import (
    CERT_ID_RE,
    CertDay,
    CertificateContent,
    check_code,
    content_for,
    fingerprint,
    new_cert_id,
    standing,
    verify_url,
)
from checkin.hours.exports import Member
from checkin.hours.model import DayTotal, VolunteerHours
from checkin.hours.record_rules import RecordFacts

D24, D25, D26 = date(2024, 2, 24), date(2024, 2, 25), date(2024, 2, 26)
MEMBER = Member("王小明", "RB-001", "臺北市政府觀光傳播局", "2024 台灣燈會 引導組", "T-1", "引導組")
HOURS = VolunteerHours("V-1", (), (DayTotal(D24, 480, 480, 480), DayTotal(D25, 0, 0, 0),
                                   DayTotal(D26, 200, 200, 180)), ())


def test_a_certificate_says_the_record_book_days_with_credited_time() -> None:
    c = content_for(HOURS, MEMBER, "ev-1", "2024 台灣燈會")
    assert c.days == (CertDay("2024-02-24", 480), CertDay("2024-02-26", 180))  # the empty day is not listed
    assert c.total_minutes == 660
    assert (c.name, c.record_book_no, c.team, c.unit) == ("王小明", "RB-001", "引導組", "臺北市政府觀光傳播局")


def test_days_the_record_rules_leave_out_are_not_certified_unless_accepted() -> None:
    uninsured_on_26 = replace(MEMBER, record=RecordFacts(True, True, D24, D25))  # insured only to the 25th
    assert [d.day for d in content_for(HOURS, uninsured_on_26, "ev-1", "燈會").days] == ["2024-02-24"]
    accepted = replace(uninsured_on_26, accepted_days=frozenset({D26}))
    assert [d.day for d in content_for(HOURS, accepted, "ev-1", "燈會").days] == ["2024-02-24", "2024-02-26"]


def test_canonical_bytes_round_trip_and_do_not_depend_on_anything_but_the_content() -> None:
    c = content_for(HOURS, MEMBER, "ev-1", "2024 台灣燈會")
    text = c.canonical()
    assert CertificateContent.from_canonical(text) == c
    assert CertificateContent.from_canonical(text.decode()).canonical() == text
    assert "王小明".encode() in text  # UTF-8, not escaped
    with pytest.raises(ValueError, match="format"):
        CertificateContent.from_canonical(text.replace(b'"v":1', b'"v":9'))


def test_fingerprints_bind_the_number_and_the_content() -> None:
    c = content_for(HOURS, MEMBER, "ev-1", "燈會")
    a, b = new_cert_id(), new_cert_id()
    assert a != b and CERT_ID_RE.match(a) and CERT_ID_RE.match(b)
    assert fingerprint(a, c.canonical()) == fingerprint(a, c.canonical())
    assert fingerprint(a, c.canonical()) != fingerprint(b, c.canonical())
    changed = replace(c, days=(CertDay("2024-02-24", 510),))
    assert fingerprint(a, c.canonical()) != fingerprint(a, changed.canonical())
    code = check_code(fingerprint(a, c.canonical()))
    assert len(code) == 14 and code.count("-") == 2 and code == code.upper()
    assert verify_url("https://gate.example.org/", a) == f"https://gate.example.org/v/{a}"


def test_standing_revoked_then_reissued_then_changed_hours_then_details() -> None:
    issued = content_for(HOURS, MEMBER, "ev-1", "燈會")
    fewer = replace(issued, days=issued.days[:1])
    renamed = replace(issued, name="王曉明")
    assert standing(revoked=False, superseded_by=None, issued=issued, current=issued).status == "valid"
    assert standing(revoked=True, superseded_by="x", issued=issued, current=issued).reason == "revoked"
    assert standing(revoked=False, superseded_by="x", issued=issued, current=issued).reason == "reissued"
    assert standing(revoked=False, superseded_by=None, issued=issued, current=fewer).reason == "hours_changed"
    assert standing(revoked=False, superseded_by=None, issued=issued, current=None).reason == "hours_changed"
    found = standing(revoked=False, superseded_by=None, issued=issued, current=renamed)
    assert (found.status, found.reason) == ("superseded", "details_changed")
