"""The project's words, in one place: verdicts, refusal and duplicate reasons, warnings, anomaly kinds,
staff roles, gate modes and the fields of a scan's stream entry. Pure; every other module names these.

They are StrEnums, so a member equals its string: what Redis, Postgres, JSON and the kiosk's JavaScript
carry is the `.value`, and the Lua script (checkin/scan/lua/scan.lua) writes the same strings.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Reason(StrEnum):
    """Why a scan was refused (verdict rejected) or counted as a duplicate."""

    # refusals
    EVENT_CLOSED = "event_closed"
    WRONG_GATE = "wrong_gate"
    INVALID_CARD = "invalid_card"
    UNKNOWN_KEY = "unknown_key"
    REVOKED = "revoked"
    NOT_ON_ROSTER = "not_on_roster"
    NOT_INSURED = "not_insured"
    # duplicates
    DEBOUNCE = "debounce"
    ALREADY_ON_SITE = "already_on_site"
    NOT_ON_SITE = "not_on_site"
    # a check-out at an auto gate soon after the check-in: nothing happens until the card is scanned again
    CONFIRM_CHECKOUT = "confirm_checkout"


class Refusal(StrEnum):
    """Why a scan is refused outright: nothing is stored or counted for it (an HTTP 4xx, not a verdict)."""

    SCAN_IN_FUTURE = "scan_in_future"  # stamped later than the server clock plus the skew allowance
    OUTSIDE_EVENT_DATES = "outside_event_dates"  # stamped outside the event's days, with the policy's margin
    GATE_NOT_ENROLLED = "gate_not_enrolled"  # the device was enrolled at another gate


class Warning(StrEnum):  # noqa: A001 - the domain's word; the builtin is never needed beside it
    """Accepted, but worth a look."""

    OUTSIDE_SHIFT = "outside_shift"
    CLOCK_SKEW = "clock_skew"
    OVER_REST_LIMIT = "over_rest_limit"  # a session or a day longer than the event allows


class Anomaly(StrEnum):
    """What the office's queue lists after deriving hours."""

    MISSING_CHECKOUT = "missing_checkout"
    UNPAIRED_CHECKOUT = "unpaired_checkout"
    OVERLONG_SESSION = "overlong_session"
    OUTSIDE_SHIFT = "outside_shift"
    WRONG_ZONE = "wrong_zone"
    MANY_DUPLICATES = "many_duplicates"
    AFTER_REVOCATION = "after_revocation"
    OVERLAPPING_SESSIONS = "overlapping_sessions"
    STALE_CORRECTION = "stale_correction"
    CLOCK_SKEW = "clock_skew"


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    TEAM_LEAD = "team_lead"


class NoteScope(StrEnum):
    """What an attention note is attached to (checkin/events/notes.py: the most specific one applies)."""

    VOLUNTEER = "volunteer"
    SHIFT = "shift"
    TEAM = "team"


class GateMode(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    AUTO = "auto"


# A scan's entry in the event stream, field by field in the order the scan script writes them (XADD in
# checkin/scan/lua/scan.lua). The recorder's parser and the live decoder read these names; a unit test
# holds the script's field list to this tuple.
SCAN_FIELDS: tuple[str, ...] = (
    "scan_id",  # the device's UUID for the scan (idempotency key)
    "dev",  # device id
    "seq",  # the device's sequence number
    "gate",  # gate id
    "zone",  # the gate's zone
    "card",  # card id
    "vol",  # volunteer id ('' when the card is unknown)
    "team",  # the volunteer's team
    "at",  # when it was scanned, ms: the device's time, or the gateway's when a live scan's clock is off
    "dat",  # when the device says it was scanned, ms
    "rx",  # when the gateway received it, ms
    "verdict",  # a Verdict
    "reason",  # a Reason or ''
    "warn",  # Warnings joined by ','
    "closes",  # the scan_id of the check-in this check-out closes
    "src",  # 'live' or 'journal' (a replay)
    "senior",  # '1' for a volunteer aged 65+
    "op",  # the operator of a manual scan ('' for a card)
)
