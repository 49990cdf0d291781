"""The console's event setup bodies (gateway/console.py). Their values are checked by the event plan's own rules
(checkin/events/plan.py), which name the field of each problem, so here they are any JSON value: a field left
out is not changed."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

Value = Any | UnsetType


class NewEvent(msgspec.Struct):
    id: Value = UNSET
    name: Value = UNSET
    starts_on: Value = UNSET  # YYYY-MM-DD
    ends_on: Value = UNSET
    tz: Value = UNSET  # an IANA time zone, e.g. Asia/Taipei


class EventEdit(msgspec.Struct):
    name: Value = UNSET
    starts_on: Value = UNSET
    ends_on: Value = UNSET
    tz: Value = UNSET
    policy: Value = UNSET  # {"gate": {...}, "hours": {...}}: the settings to change


class PlanUpload(msgspec.Struct):
    text: str  # the plan file as written (comments allowed), as `checkin plan import` reads it


class ZoneRow(msgspec.Struct):
    name: Value = UNSET


class GateRow(msgspec.Struct):
    zone_id: Value = UNSET
    name: Value = UNSET
    mode: Value = UNSET  # auto, entry, exit, desk


class ShiftRow(msgspec.Struct):
    zone_id: Value = UNSET
    name: Value = UNSET
    starts_at: Value = UNSET  # a time with no offset is the event's local time
    ends_at: Value = UNSET
    required: Value = UNSET  # how many volunteers the shift needs


ROWS: dict[str, type[msgspec.Struct]] = {"zones": ZoneRow, "gates": GateRow, "shifts": ShiftRow}


def given(body: msgspec.Struct) -> dict[str, Any]:
    """The fields the request sent."""
    return {k: v for k, v in msgspec.structs.asdict(body).items() if v is not UNSET}
