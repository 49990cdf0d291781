"""The rules table through `checkin.scan.rules` alone: no servers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

import checkin.scan.rules as rules
from checkin.events.store import roster_record
from checkin.scan.rules import (
    Policy,
    RosterEntry,
    ScanFacts,
    Verdict,
    day_offset_min,
    decide,
    effective_time,
    service_day,
)
from tests.rules_table import CASES, CHECKIN_SCAN, NOT_STORED, SENIOR_FROM_YEAR, Case, ms, roster_row


def refusal(case: Case) -> str | None:
    at_ms, _ = effective_time(ms(case.at), case.server_ms, case.online, case.policy)
    window = rules.scan_window(*case.days, case.policy.tz, case.policy)
    return rules.time_refusal(at_ms, case.server_ms, window, case.policy)


def run_case(case: Case) -> tuple[Verdict, int]:
    at_ms, warnings = effective_time(ms(case.at), case.server_ms, case.online, case.policy)
    entry = None
    if case.volunteer is not None and not case.card_reason:
        record = roster_record(roster_row(case.volunteer), ZoneInfo(case.policy.tz), SENIOR_FROM_YEAR)
        entry = RosterEntry.from_record(record)
    facts = ScanFacts(at_ms=at_ms, event_open=case.event_open, gate_mode=rules.gate_mode(case.gate, case.mode),
                      card_reason=case.card_reason, revoked=case.revoked, volunteer=entry, warnings=warnings,
                      day=service_day(at_ms, day_offset_min(case.policy.tz, ms(case.at))))
    return decide(facts, case.presence, case.policy), at_ms


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rules_table(case: Case) -> None:
    refused = refusal(case)
    if case.verdict == NOT_STORED:
        assert refused == case.reason
        return
    assert refused is None
    verdict, _ = run_case(case)
    assert (verdict.verdict, verdict.reason, verdict.warnings, verdict.session_minutes) == (
        case.verdict, case.reason, case.warnings, case.minutes)
    if verdict.verdict == rules.CHECKED_OUT:
        assert verdict.closes_scan_id == CHECKIN_SCAN


def test_table_covers_every_verdict_reason_warning_and_mode() -> None:
    seen = {(c.verdict, c.reason) for c in CASES}
    for verdict in (rules.CHECKED_IN, rules.CHECKED_OUT):
        assert (verdict, None) in seen
    for reason in (rules.DEBOUNCE, rules.ALREADY_ON_SITE, rules.NOT_ON_SITE, rules.CONFIRM_CHECKOUT):
        assert (rules.DUPLICATE, reason) in seen
    for reason in (rules.EVENT_CLOSED, rules.WRONG_GATE, rules.INVALID_CARD, rules.UNKNOWN_KEY, rules.REVOKED,
                   rules.NOT_ON_ROSTER, rules.NOT_INSURED):
        assert (rules.REJECTED, reason) in seen
    warnings = {w for c in CASES for w in c.warnings}
    assert {c.reason for c in CASES if c.verdict == NOT_STORED} == {rules.SCAN_IN_FUTURE, rules.OUTSIDE_EVENT_DATES}
    assert warnings == {rules.NOT_INSURED, rules.OUTSIDE_SHIFT, rules.CLOCK_SKEW, rules.OVER_REST_LIMIT}
    assert {c.gate for c in CASES} == {"entry", "exit", "auto", None}
    assert {c.mode for c in CASES} == {"", "entry", "exit", "auto"}
    assert {c.policy.insurance for c in CASES} == {"block", "warn", "off"}


def test_clock_skew_only_for_live_scans() -> None:
    policy = Policy(clock_skew_s=120)
    assert effective_time(1_000_000, 1_000_000 + 120_000, True, policy) == (1_000_000, ())
    assert effective_time(1_000_000, 1_000_000 + 120_001, True, policy) == (1_120_001, (rules.CLOCK_SKEW,))
    assert effective_time(1_000_000, 1_000_000 + 10**9, False, policy) == (1_000_000, ())


def test_gate_mode_request_only_at_an_auto_gate_of_the_event() -> None:
    assert rules.gate_mode("auto", "") == "auto"
    assert rules.gate_mode("auto", "exit") == "exit"
    assert rules.gate_mode("entry", "exit") == "entry"
    assert rules.gate_mode("exit", "auto") == "exit"
    assert rules.gate_mode(None, "entry") is None


def test_roster_record_round_trip() -> None:
    from tests.rules_table import Volunteer

    record = roster_record(roster_row(Volunteer(birth_year=1950)), ZoneInfo("Asia/Taipei"), SENIOR_FROM_YEAR)
    entry = RosterEntry.from_record(record)
    assert entry.senior and entry.display_name == "陳○明" and entry.zone == "main"
    assert len(entry.shifts) == 1 and entry.insured_until_ms is not None


@pytest.mark.parametrize("bad", [{"insurance": "maybe"}, {"debounce_s": -1}, {"clock_skew_s": "60"}])
def test_policy_from_json_refuses_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Policy.from_json(bad)


def test_policy_from_json_ignores_unknown_fields() -> None:
    assert Policy.from_json({"debounce_s": 30, "colour": "red"}) == Policy(debounce_s=30)
