"""Bodies of the console's attention notes, the refused-scan report and a team's members (issue 18)."""

from __future__ import annotations

from typing import Literal

import msgspec


class NoteBody(msgspec.Struct):
    note: str  # checked by checkin/events/notes.py check_note (80 characters, nothing personal)


class Note(msgspec.Struct, forbid_unknown_fields=True):
    scope: Literal["volunteer", "shift", "team"]
    target_id: str
    target_name: str
    note: str
    updated_by: str
    updated_at: str


class Target(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str


class Notes(msgspec.Struct, forbid_unknown_fields=True):
    notes: list[Note]
    shifts: list[Target]
    teams: list[Target]


class NoteSaved(msgspec.Struct, forbid_unknown_fields=True):
    scope: Literal["volunteer", "shift", "team"]
    target_id: str
    target_name: str
    note: str
    live: bool  # the event is loaded in Redis: the next check-in carries it


class NoteDeleted(msgspec.Struct, forbid_unknown_fields=True):
    deleted: bool
    live: bool


class RefusedCount(msgspec.Struct, forbid_unknown_fields=True):
    hour: str  # "2024-02-24T18:00", the event's time zone
    gate_id: str
    gate_name: str
    reason: str
    count: int


class RefusedReport(msgspec.Struct, forbid_unknown_fields=True):
    tz: str
    reasons: list[str]
    totals: dict[str, int]
    rows: list[RefusedCount]


class RefusedQuery(msgspec.Struct):
    gate_id: str
    hour: str
    reason: str


class RefusedScan(msgspec.Struct, forbid_unknown_fields=True):
    scan_id: str
    scanned_at: str
    received_at: str
    gate_id: str
    device_id: str
    card_id: str | None
    reason: str
    source: str


class RefusedScans(msgspec.Struct, forbid_unknown_fields=True):
    gate_id: str
    hour: str
    reason: str
    scans: list[RefusedScan]
    more: bool


class TeamQuery(msgspec.Struct):
    team_id: str = ""  # a coordinator or admin names the team; a team lead gets their own


class TeamMember(msgspec.Struct, forbid_unknown_fields=True):
    volunteer_id: str
    name: str
    has_card: bool
    on_site: bool | None


class TeamMembers(msgspec.Struct, forbid_unknown_fields=True):
    event_id: str
    role: str
    team_id: str
    team: str
    unit: str
    members: list[TeamMember]
