"""The attention notes' pure rules: what a note may say, and which one a check-in gets."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from checkin.errors import Invalid
from checkin.events.notes import MAX_NOTE_CHARS, check_note, note_at, record_notes
from checkin.scan.script import GarbledReply, decode_result

ROOT = Path(__file__).resolve().parents[2]
H = 3_600_000
# two shifts: 08-12 and 18-22 (ms since some midnight), with notes on the second only or on both
SHIFTS = [[8 * H, 12 * H, "morning"], [18 * H, 22 * H, "evening"]]


@pytest.mark.parametrize("text", ["請到 B 帳篷領背心", "  collect your vest at tent B  ", "先向區長報到，背心 L 號",
                                  "第 3 區 12 號攤位", "2 月 24 日 18:00 集合", "a" * MAX_NOTE_CHARS])
def test_plain_notes_are_kept_trimmed(text: str) -> None:
    assert check_note(text) == text.strip()


@pytest.mark.parametrize(("text", "code"), [
    ("請打 0912345678", "personal_data"), ("請打 0912-345-678", "personal_data"), ("+886 912 345 678", "personal_data"),
    ("(02)2720-8889", "personal_data"), ("ＩＤ Ａ１２３４５６７８９", "personal_data"),  # full-width is read as ASCII
    ("A123456789", "personal_data"), ("居留證 AB12345678", "personal_data"), ("x@example.org", "personal_data"),
    ("a" * (MAX_NOTE_CHARS + 1), "note_too_long"), ("   ", "invalid_field"), ("兩\n行", "invalid_field"),
    ("隱\u202e藏", "invalid_field"), (None, "invalid_field"), (["list"], "invalid_field"),
])
def test_personal_long_or_odd_notes_are_refused(text: object, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_note(text)
    assert (refused.value.code, refused.value.field) == (code, "note")


def test_the_volunteers_own_note_wins_over_shift_and_team() -> None:
    fields = record_notes("找王組長", ["morning"], {"morning": "先報到"}, "領背心")
    assert fields == {"a": "找王組長"}
    assert note_at({"s": SHIFTS, **fields}, 9 * H, 60, 60) == "找王組長"


def test_a_shift_note_applies_inside_its_window_and_the_team_note_elsewhere() -> None:
    fields = record_notes(None, ["morning", "evening"], {"evening": "晚班先報到", "other": "別班"}, "領背心")
    assert fields == {"a": "領背心", "as": {"evening": "晚班先報到"}}
    record = {"s": SHIFTS, **fields}
    assert note_at(record, 9 * H, 60, 60) == "領背心"  # the morning shift has no note
    assert note_at(record, 17 * H, 60, 60) == "晚班先報到"  # an hour early is inside the window
    assert note_at(record, 17 * H - 1, 60, 60) == "領背心"  # a moment before is not
    assert note_at(record, 23 * H, 60, 60) == "晚班先報到" and note_at(record, 23 * H + 1, 60, 60) == "領背心"


def test_overlapping_windows_take_the_earlier_shift() -> None:
    record = {"s": SHIFTS, **record_notes(None, ["morning", "evening"], {"morning": "早", "evening": "晚"}, None)}
    assert note_at(record, 15 * H, 180, 180) == "早"  # inside both widened windows
    assert note_at(record, 3 * H, 60, 60) is None  # no shift, no team note


def test_no_note_at_all_leaves_the_record_alone() -> None:
    assert record_notes(None, ["morning"], {}, None) == {}
    assert note_at({"s": SHIFTS}, 9 * H, 60, 60) is None


def test_the_kiosks_offline_twin_picks_the_same_note(tmp_path: Path) -> None:
    """kiosk/gate/notes.js (run by node, as tests/unit/test_rules_js.py runs the rules) agrees with note_at."""
    node = shutil.which("node")
    assert node, "node is needed to hold the kiosk's note rule to the Python one"
    records = [{"s": SHIFTS, **record_notes(v, ["morning", "evening"], shifts, team)}
               for v in (None, "找王組長") for team in (None, "領背心")
               for shifts in ({}, {"evening": "晚班先報到"}, {"morning": "早", "evening": "晚"})]
    cases = [{"record": r, "at": at, "early": early, "late": late} for r in records
             for at in (0, 7 * H, 7 * H - 1, 9 * H, 15 * H, 17 * H, 23 * H, 23 * H + 1) for early, late in ((60, 60), (180, 0))]
    (tmp_path / "cases.json").write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([node, str(ROOT / "tests" / "js" / "notes_table.mjs"), str(ROOT / "kiosk" / "gate" / "notes.js"),
                          str(tmp_path / "cases.json")], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [note_at(c["record"], c["at"], c["early"], c["late"]) for c in cases]


def test_the_scan_scripts_answer_carries_the_note_as_its_fifteenth_field() -> None:
    fields = ["checked_in", "", "", "V1", "王○明", "燈會志工隊", -1, 3, 1_700_000_000_000, "D1", "main", 0, -1, 0]
    assert decode_result([b"ok", orjson.dumps([*fields, "請先到 B 帳篷領背心"]), 1]).note == "請先到 B 帳篷領背心"
    assert decode_result([b"ok", orjson.dumps([*fields, ""]), 1]).note is None
    assert decode_result([b"replay", orjson.dumps(fields), 1]).note is None  # an answer stored before notes
    with pytest.raises(GarbledReply):
        decode_result([b"ok", orjson.dumps([*fields, 7]), 1])
