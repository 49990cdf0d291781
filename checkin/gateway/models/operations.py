"""Gate operations: roster search, gates, manual and group scans, team reports, rest limits, annulment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from checkin.vocabulary import GateMode, Reason, Verdict, Warning

MAX_GROUP = 200
Id = Annotated[str, Meta(min_length=1, max_length=100)]


class SearchQuery(msgspec.Struct):
    q: Annotated[str, Meta(min_length=1, max_length=64,
                           description="a name, the last digits of a phone number or a record book number")]


class Found(msgspec.Struct, forbid_unknown_fields=True):
    volunteer_id: str
    name: str
    team: str | None
    team_id: str | None
    record_book_no: str | None
    phone_tail: str | None
    national_id: str | None
    has_card: bool
    on_site: bool
    card: dict[str, Any] | None  # why no card works, when none does


class SearchAnswer(msgspec.Struct, forbid_unknown_fields=True):
    results: list[Found]


class Gate(msgspec.Struct, forbid_unknown_fields=True):
    gate_id: str
    name: str
    zone_id: str | None
    mode: GateMode


class Gates(msgspec.Struct, forbid_unknown_fields=True):
    gates: list[Gate]


class ManualScanBody(msgspec.Struct):
    volunteer_id: Id
    gate_id: Id
    action: Literal["in", "out", "auto"] = "auto"
    scan_id: str | None = None  # a UUID; made here when absent
    reason: str | None = None  # required when the volunteer has no working card (at most 200 characters)


class ScanVolunteer(msgspec.Struct, forbid_unknown_fields=True):
    display_name: str
    team: str | None


class OperatorScan(msgspec.Struct, forbid_unknown_fields=True):
    """A scan a person made for a volunteer; `card` and `manual_reason` for one without a working card."""

    scan_id: str
    verdict: Verdict
    reason: Reason | None
    warnings: list[Warning]
    volunteer: ScanVolunteer | None
    session_minutes: int | None
    on_site: int
    replay: bool
    scanned_at: str
    source: Literal["manual", "group"]
    operator: str
    note: str | None = None  # a check-in's attention note
    card: dict[str, Any] | None | msgspec.UnsetType = msgspec.UNSET
    manual_reason: str | msgspec.UnsetType = msgspec.UNSET


class GroupBody(msgspec.Struct):
    gate_id: Id
    volunteer_ids: Annotated[list[Id], Meta(min_length=1, max_length=MAX_GROUP)]


class GroupAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """Per member: an OperatorScan with its volunteer_id, or {volunteer_id, error} (not_on_roster,
    not_your_team, no_active_card)."""

    results: list[dict[str, Any]]


class TeamMember(msgspec.Struct, forbid_unknown_fields=True):
    volunteer_id: str
    name: str
    check_ins: int
    check_outs: int
    first_in: str | None
    last_out: str | None
    sources: list[str]
    operators: list[str]


class TeamReport(msgspec.Struct, forbid_unknown_fields=True):
    event_id: str
    team_id: str
    team: str
    unit: str
    members: list[TeamMember]


class OverLimit(msgspec.Struct, forbid_unknown_fields=True):
    volunteer_id: str
    name: str
    team: str
    session_minutes: int
    day_minutes: int
    max_continuous_min: int | None
    max_daily_min: int | None


class RestLimits(msgspec.Struct, forbid_unknown_fields=True):
    limits: dict[str, int]
    over: list[OverLimit]


class AnnulBody(msgspec.Struct):
    reason: Annotated[str, Meta(max_length=500)] = ""


class Annulled(msgspec.Struct, forbid_unknown_fields=True):
    scan_id: str
    annulled: bool
    again: bool  # annulled before: nothing changed this time
    verdict: Verdict
    live_reversed: bool
    by: str
    on_site: int | None
