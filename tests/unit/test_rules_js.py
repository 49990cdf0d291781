"""The rules table through the kiosk's JavaScript port (kiosk/gate/rules.js), run by node: the offline gate must
answer as `checkin.scan.rules.decide` and the scan script do.

Each case goes to JavaScript in the shapes the gate copy carries (the roster record and presence as Redis holds
them, passed through checkin/events/gate_copy.py; the policy as the event's meta hash holds it). Node is
required: a machine without it fails here rather than skipping the offline rules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

import checkin.scan.rules as rules
from checkin.events.gate_copy import policy_from_meta, presence_for_copy
from checkin.events.store import checkout_meta, rest_meta, roster_record
from tests.rules_table import CASES, NOT_STORED, SENIOR_FROM_YEAR, Case, ms, presence_record, roster_row
from tests.unit.test_rules import refusal, run_case

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "tests" / "js" / "rules_table.mjs"


def rules_js() -> Path:
    # Found by name: the kiosk's files are being sorted into folders, and the port goes with the gate's.
    found = [p for p in REPO.glob("kiosk/**/rules.js") if "vendor" not in p.parts]
    assert len(found) == 1, found
    return found[0]


def as_copy(case: Case) -> dict[str, Any]:
    policy = case.policy
    meta = {"status": "open" if case.event_open else "closed", "tz": policy.tz, "insurance": policy.insurance,
            "debounce_s": policy.debounce_s, "shift_early_min": policy.shift_early_min,
            "shift_late_min": policy.shift_late_min, "clock_skew_s": policy.clock_skew_s,
            **rest_meta(policy, ms(case.at)), **checkout_meta(policy)}
    window = rules.scan_window(*case.days, policy.tz, policy)
    meta.update(scan_from_ms=window[0], scan_until_ms=window[1])  # as load_event writes them
    entry = None
    if case.volunteer is not None and not case.revoked:
        # the copy carries the roster record's own JSON, as the scan script reads it
        entry = orjson.loads(orjson.dumps(roster_record(roster_row(case.volunteer), ZoneInfo(policy.tz),
                                                        SENIOR_FROM_YEAR)))
    presence = None
    if case.presence.on_site or case.presence.last_ms is not None:
        presence = presence_for_copy(orjson.dumps(presence_record(case.presence)))
    return {
        "name": case.name, "device_ms": ms(case.at), "server_ms": case.server_ms, "online": case.online,
        "policy": policy_from_meta({k: str(v) for k, v in meta.items()}), "gate_mode": case.gate, "mode": case.mode,
        "card_reason": case.card_reason, "revoked": case.revoked, "entry": entry, "presence": presence,
    }


def run_node(tmp_path: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is needed to test the kiosk's offline rules (make browser-deps installs it)"
    table = tmp_path / "cases.json"
    table.write_text(json.dumps(cases), encoding="utf-8")
    done = subprocess.run([node, str(HARNESS), str(rules_js()), str(table)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    return answers


def test_javascript_rules_answer_the_whole_table(tmp_path: Path) -> None:
    answers = run_node(tmp_path, [as_copy(c) for c in CASES])
    assert len(answers) == len(CASES)
    wrong = []
    for case, got in zip(CASES, answers, strict=True):
        if case.verdict == NOT_STORED:
            if (got["verdict"], got["reason"]) != (NOT_STORED, refusal(case)) or got["after"] != as_copy(case)["presence"]:
                wrong.append((case.name, got))
            continue
        expected, at_ms = run_case(case)
        assert (case.verdict, case.reason, case.warnings, case.minutes) == (
            expected.verdict, expected.reason, expected.warnings, expected.session_minutes)
        if (got["verdict"], got["reason"], tuple(got["warnings"]), got["minutes"], got["at"]) != (
                case.verdict, case.reason, case.warnings, case.minutes, at_ms):
            wrong.append((case.name, got))
        # The presence the next offline scan is decided on, as the scan script leaves it
        before = as_copy(case)["presence"]
        if case.reason == rules.CONFIRM_CHECKOUT:  # the time it was asked, as the scan script keeps it
            assert got["after"] == {**before, "cf": at_ms}, case.name
        elif case.verdict in (rules.DUPLICATE, rules.REJECTED):
            assert got["after"] == before, case.name
        else:
            assert got["after"]["on"] == (1 if case.verdict == rules.CHECKED_IN else 0), case.name
            assert got["after"]["last"] == at_ms, case.name
    assert wrong == []


def test_a_revoked_card_and_a_stranger_are_refused_from_the_copy(tmp_path: Path) -> None:
    """The two a signature-only check let in: the copy's card record decides them."""
    base = as_copy(CASES[0])
    revoked = {**base, "name": "revoked", "revoked": True, "entry": None}
    stranger = {**base, "name": "stranger", "entry": None}
    answers = run_node(tmp_path, [base, revoked, stranger])
    assert [(a["verdict"], a["reason"]) for a in answers] == [
        (rules.CHECKED_IN, None), (rules.REJECTED, rules.REVOKED), (rules.REJECTED, rules.NOT_ON_ROSTER)]
