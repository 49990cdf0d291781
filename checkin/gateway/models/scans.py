"""POST /api/v1/scans and /api/v1/scans/batch: a scan as a kiosk sends it, and the verdict it gets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from checkin.vocabulary import Reason, Verdict, Warning

MAX_BATCH = 1000
MAX_SEQ = 2**53  # JavaScript's safe integers: the kiosk counts in a Number
GATE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

# What JSON Schema cannot say exactly is checked after decoding (scan_request.py): a UUID in any form
# uuid.UUID reads, a year from 2000 to 2200, and a gate id with no trailing newline (a pattern's "$"
# would allow one), so these bounds are documented here and enforced there.
ScanId = Annotated[str, Meta(description="a UUID made on the device (idempotency key)", max_length=64)]
GateId = Annotated[str, Meta(extra_json_schema={"pattern": GATE_PATTERN})]
ScannedAt = Annotated[datetime, Meta(tz=True, description="RFC 3339 with an offset, e.g. 2023-02-05T18:03:12+08:00")]


class ScanBody(msgspec.Struct, rename={"mode_": "mode"}):
    """One scan (docs/api.md, "POST /api/v1/scans")."""

    scan_id: ScanId
    card: Annotated[str, Meta(min_length=1, max_length=512, description="the QR text")]
    gate_id: GateId
    scanned_at: ScannedAt
    seq: Annotated[int, Meta(ge=1, lt=MAX_SEQ, description="the device's own increasing number")]
    mode_: Literal["entry", "exit", "auto", "auto_gate"] | None = None


class BatchBody(msgspec.Struct):
    """An offline journal replayed in order; each item is decoded on its own, so one bad item fails alone."""

    scans: list[msgspec.Raw]  # 1 to MAX_BATCH, checked after (a wrong count is invalid_field, not invalid_body)


class BatchSchema(msgspec.Struct):
    """BatchBody as documented (its items are ScanBody)."""

    scans: Annotated[list[ScanBody], Meta(min_length=1, max_length=MAX_BATCH)]


class Volunteer(msgspec.Struct, forbid_unknown_fields=True):
    display_name: str
    team: str | None


class LastScan(msgspec.Struct, forbid_unknown_fields=True):
    """The accepted scan a duplicate repeats."""

    verdict: Literal["checked_in", "checked_out"]
    at: str


class ScanAnswer(msgspec.Struct, forbid_unknown_fields=True):
    scan_id: str
    verdict: Verdict
    reason: Reason | None
    warnings: list[Warning]
    volunteer: Volunteer | None
    session_minutes: int | None
    on_site: int
    durable_seq: int
    scanned_at: str
    note: str | None  # a check-in's attention note (checkin/events/notes.py)
    last_scan: LastScan | None


class ItemError(msgspec.Struct, forbid_unknown_fields=True):
    """A batch item refused alone: nothing was stored for it."""

    scan_id: str | None
    error: str
    message: str
    field: str | None


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


class BatchAnswer(msgspec.Struct, forbid_unknown_fields=True):
    """In the batch's order: a verdict, or the item's own refusal. (msgspec takes no untagged union of
    Structs, so the item schema is written out; the route lists both Structs so they are in the document.)"""

    results: Annotated[list[Any],
                       Meta(extra_json_schema={"items": {"anyOf": [_ref("ScanAnswer"), _ref("ItemError")]}})]
