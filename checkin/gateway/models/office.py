"""The office's routes after the event: hours, anomalies, teams, summary, a timeline, corrections, approvals,
record acceptances and exports (docs/hours.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from checkin.vocabulary import Anomaly

MAX_LIMIT = 500
Day = Annotated[str, Meta(extra_json_schema={"format": "date"})]


class PageQuery(msgspec.Struct):
    offset: Annotated[int, Meta(ge=0, le=10**9)] = 0
    limit: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] = 100


class HoursQuery(PageQuery):
    team_id: str | msgspec.UnsetType = msgspec.UNSET


class AnomaliesQuery(PageQuery):
    kind: Anomaly | msgspec.UnsetType = msgspec.UNSET
    resolved: Literal["true", "false", "all"] = "false"


class ExportQuery(msgspec.Struct, rename={"from_": "from", "to_": "to"}):
    layout: Literal["plain", "book"] = "plain"
    registrar: str | msgspec.UnsetType = msgspec.UNSET  # the record book's 登錄人; the caller's name by default
    from_: Day | msgspec.UnsetType = msgspec.UNSET
    to_: Day | msgspec.UnsetType = msgspec.UNSET


class DayHours(msgspec.Struct, forbid_unknown_fields=True):
    day: Day
    hours: float
    capped: bool


class _Page(msgspec.Struct, forbid_unknown_fields=True):
    """Where a page of a list stands (PageQuery asked for it); a subclass adds its items, after these."""

    total: int
    offset: int
    limit: int


class _VolunteerColumns(msgspec.Struct, forbid_unknown_fields=True):
    """Who a list's row is about, as the office's lists show them; a subclass adds its own fields after these."""

    volunteer_id: str
    name: str | None
    team_id: str | None
    team: str | None
    record_book_no: str | None


class VolunteerHoursRow(_VolunteerColumns):
    hours: float
    days: list[DayHours]
    open_anomalies: int


class HoursPage(_Page):
    items: list[VolunteerHoursRow]


class AnomalyRow(_VolunteerColumns):
    kind: Anomaly
    session_key: str | None
    day: Day | None
    scan_ids: list[str]
    detail: str
    resolved: bool


class AnomaliesPage(_Page):
    items: list[AnomalyRow]


class TeamDay(msgspec.Struct, forbid_unknown_fields=True):
    team_id: str
    team: str
    unit: str
    day: Day
    volunteers: int
    hours: float
    open_anomalies: int
    approved: bool


class TeamDays(msgspec.Struct, forbid_unknown_fields=True):
    items: list[TeamDay]


class CategoryTotal(msgspec.Struct, forbid_unknown_fields=True):
    volunteers: int
    hours: float


class Summary(msgspec.Struct, forbid_unknown_fields=True):
    """The city plan's figures for the event (docs/hours.md)."""

    event_id: str
    volunteers: int
    total_hours: float
    average_hours: float
    seniors: int
    senior_share: float
    unknown_age: int
    service_days: int
    insured_days: int
    insurance_coverage: float
    by_category: dict[str, CategoryTotal]


class Timeline(msgspec.Struct, forbid_unknown_fields=True):
    """One volunteer's scans, sessions, days, anomalies and corrections, derived on demand."""

    event_id: str
    volunteer_id: str
    name: str | None
    team_id: str | None
    team: str | None
    record_book_no: str | None
    timezone: str
    hours: float
    scans: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    days: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    corrections: list[dict[str, Any]]


Text = Annotated[str, Meta(max_length=200)]
Reason = Annotated[str, Meta(max_length=1000)]
Moment = Annotated[str, Meta(max_length=64, description="a time, with or without an offset (the event's zone)")]
DayText = Annotated[str, Meta(max_length=10, extra_json_schema={"format": "date"})]


class CorrectionBody(msgspec.Struct):
    volunteer_id: Text
    action: Literal["add", "change", "void"]
    reason: Reason
    session_key: Text | None = None  # required to change or void
    start: Moment | None = None  # required to add
    end: Moment | None = None


class Corrected(msgspec.Struct, forbid_unknown_fields=True):
    correction_id: str
    action: Literal["add", "change", "void"]
    session_key: str
    volunteer_id: str
    actor: str
    reason: str
    hours: float


class ApprovalBody(msgspec.Struct):
    team_id: Text
    day: DayText


class Approved(msgspec.Struct, forbid_unknown_fields=True):
    team_id: str
    day: Day
    approved: bool
    new: bool
    approved_by: str


class AcceptanceBody(msgspec.Struct):
    volunteer_id: Text
    reason: Reason
    day: DayText


class Accepted(msgspec.Struct, forbid_unknown_fields=True):
    volunteer_id: str
    day: Day
    accepted: bool
    accepted_by: str
    reason: str
