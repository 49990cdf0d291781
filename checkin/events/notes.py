"""Attention notes (提醒事項): what one may say, and which note a volunteer gets at a check-in. Pure.

A note hangs on a volunteer, a shift or a team; at a check-in the most specific applies: the volunteer's own
note, else the note of the shift the check-in falls in (the same window the scan rules use: from
shift_early_min before its start to shift_late_min after its end), else the team's. The roster record each
card carries into Redis and the gate copy holds the notes pre-resolved by `record_notes` (`a`: the volunteer's
or else the team's note; `as`: shift id -> note, only when the volunteer has no note of their own), and
`note_at` picks one at scan time; the scan script and the kiosk's gate/notes.js do the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from checkin.errors import Invalid

MAX_NOTE_CHARS = 80  # one or two lines on the verdict screen, read at a glance
# A Taiwanese national ID (one letter, then 1/2/8/9 and eight digits), a resident ID (two letters), or a run
# of 8 or more digits with the separators a phone number is written with: nothing a gate would show.
_NATIONAL_ID_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9][0-9]{8}(?![0-9])")
_PHONE_RE = re.compile(r"(?:\+?\d[\d\s().-]{6,}\d)")
_MIN_PHONE_DIGITS = 8
_EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")


def check_note(text: object) -> str:
    """The note as stored (trimmed, NFC), or Invalid with the reason: not text, empty, too long, more than one
    line, or something personal a gate must not show (an ID number, a phone number, an e-mail address)."""
    if not isinstance(text, str):
        raise Invalid("note must be text", field="note")
    note = unicodedata.normalize("NFC", text).strip()
    if not note:
        raise Invalid("note is empty; to remove a note, delete it", field="note")
    if len(note) > MAX_NOTE_CHARS:
        raise Invalid(f"note is {len(note)} characters; at most {MAX_NOTE_CHARS}", code="note_too_long", field="note")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in note):
        raise Invalid("note is one line of plain text (no control or format characters)", field="note")
    # Full-width digits and letters (０９１２…) are read as their ASCII forms before the checks.
    plain = unicodedata.normalize("NFKC", note)
    if _NATIONAL_ID_RE.search(plain):
        raise Invalid("a note may not hold an ID number: the gate shows it to whoever stands there",
                      code="personal_data", field="note")
    if any(sum(ch.isdigit() for ch in m.group()) >= _MIN_PHONE_DIGITS for m in _PHONE_RE.finditer(plain)):
        raise Invalid("a note may not hold a phone number: the gate shows it to whoever stands there",
                      code="personal_data", field="note")
    if _EMAIL_RE.search(plain):
        raise Invalid("a note may not hold an e-mail address: the gate shows it to whoever stands there",
                      code="personal_data", field="note")
    return note


def record_notes(volunteer_note: str | None, shift_ids: Iterable[str], shift_notes: Mapping[str, str],
                 team_note: str | None) -> dict[str, Any]:
    """The note fields of one volunteer's roster record (`a`, `as`), empty when no note applies."""
    if volunteer_note:
        return {"a": volunteer_note}  # the volunteer's own note wins over every shift and the team
    fields: dict[str, Any] = {}
    by_shift = {sid: shift_notes[sid] for sid in shift_ids if sid in shift_notes}
    if by_shift:
        fields["as"] = by_shift
    if team_note:
        fields["a"] = team_note
    return fields


def note_at(record: Mapping[str, Any], at_ms: int, early_min: int, late_min: int) -> str | None:
    """The note for a check-in at `at_ms` by the volunteer of this roster record: the note of the first of their
    shifts (in start order) whose window holds the moment and has a note, else `a`, else None."""
    by_shift = record.get("as") or {}
    if by_shift:
        early, late = early_min * 60_000, late_min * 60_000
        for start, end, sid in record.get("s", ()):
            if sid in by_shift and start - early <= at_ms <= end + late:
                return str(by_shift[sid])
    note = record.get("a")
    return str(note) if note else None
