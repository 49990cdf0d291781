"""The gate's decision for one scan: pure, no I/O.

`decide` is the reference; `checkin/lua/scan.lua` applies the same rules atomically inside Redis,
and tests/integration/test_rules_parity.py holds the two to the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

CHECKED_IN = "checked_in"
CHECKED_OUT = "checked_out"
DUPLICATE = "duplicate"
REJECTED = "rejected"

# Rejection reasons
EVENT_CLOSED = "event_closed"
WRONG_GATE = "wrong_gate"
INVALID_CARD = "invalid_card"
UNKNOWN_KEY = "unknown_key"
REVOKED = "revoked"
NOT_ON_ROSTER = "not_on_roster"
NOT_INSURED = "not_insured"
# Reasons a scan is a duplicate
DEBOUNCE = "debounce"
ALREADY_ON_SITE = "already_on_site"
NOT_ON_SITE = "not_on_site"
# Warnings
OUTSIDE_SHIFT = "outside_shift"
CLOCK_SKEW = "clock_skew"
OVER_REST_LIMIT = "over_rest_limit"  # a session or a day longer than the event allows

GATE_MODES = ("entry", "exit", "auto")


@dataclass(frozen=True)
class Policy:
    """An event's gate policy (stored in events.policy, copied into Redis when the event opens)."""

    debounce_s: int = 60
    insurance: str = "warn"  # "block", "warn" or "off"
    shift_early_min: int = 60  # a check-in this long before a shift starts is inside it
    shift_late_min: int = 60  # ... and this long after it ends
    clock_skew_s: int = 120  # an online scan further than this from the server clock is re-stamped
    tz: str = "Asia/Taipei"
    # Rest limits (0: none). The senior_* ones apply to volunteers aged 65+ when stricter.
    max_continuous_min: int = 0
    max_daily_min: int = 0
    senior_max_continuous_min: int = 0
    senior_max_daily_min: int = 0

    def rest_limits(self, senior: bool) -> tuple[int, int]:
        """(continuous, daily) minutes allowed; 0 means no limit."""
        def stricter(general: int, older: int) -> int:
            if not senior or older <= 0:
                return general
            return older if general <= 0 else min(general, older)
        return (stricter(self.max_continuous_min, self.senior_max_continuous_min),
                stricter(self.max_daily_min, self.senior_max_daily_min))

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Policy:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        policy = cls(**known)  # type: ignore[arg-type]
        if policy.insurance not in ("block", "warn", "off"):
            raise ValueError(f"policy.insurance must be block, warn or off, got {policy.insurance!r}")
        for name in ("debounce_s", "shift_early_min", "shift_late_min", "clock_skew_s", "max_continuous_min",
                     "max_daily_min", "senior_max_continuous_min", "senior_max_daily_min"):
            value = getattr(policy, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"policy.{name} must be a whole number >= 0, got {value!r}")
        return policy


@dataclass(frozen=True)
class RosterEntry:
    """What the gate knows of a volunteer on this event's roster (no personal data beyond a display name)."""

    volunteer_id: str
    display_name: str
    team: str
    zone: str | None = None
    insured_from_ms: int | None = None  # start of the first insured day, event time zone
    insured_until_ms: int | None = None  # end of the last insured day (exclusive)
    shifts: tuple[tuple[int, int, str], ...] = ()  # (start_ms, end_ms, shift_id)
    senior: bool = False  # aged 65 or over

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RosterEntry:
        """Read the roster record that checkin/events.py `roster_record` writes into Redis."""
        return cls(
            volunteer_id=record["v"], display_name=record["n"], team=record["t"], zone=record.get("z"),
            insured_from_ms=record.get("i0"), insured_until_ms=record.get("i1"),
            shifts=tuple((int(a), int(b), str(sid)) for a, b, sid in record.get("s", ())),
            senior=record.get("o") == 1,
        )


@dataclass(frozen=True)
class Presence:
    """The live state of one volunteer at the event."""

    on_site: bool = False
    last_ms: int | None = None  # time of the last accepted (non-duplicate) scan
    checkin_scan_id: str | None = None
    checkin_ms: int | None = None
    zone: str | None = None
    day: int | None = None  # the service day (days since 1970 in the event's zone) of day_minutes
    day_minutes: int = 0  # minutes of finished sessions on that day


@dataclass(frozen=True)
class ScanFacts:
    """Everything about one scan that the decision needs, gathered before deciding."""

    at_ms: int
    event_open: bool = True
    gate_mode: str | None = "auto"  # None: the gate is not one of this event's
    card_reason: str | None = None  # invalid_card / unknown_key from the card check
    revoked: bool = False
    volunteer: RosterEntry | None = None
    warnings: tuple[str, ...] = ()  # found before deciding, e.g. clock_skew
    day: int = 0  # service_day(at_ms): the day a rest limit counts in


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    session_minutes: int | None = None
    closes_scan_id: str | None = None  # the check-in a check-out closes


def insured(entry: RosterEntry, at_ms: int) -> bool:
    if entry.insured_from_ms is None or entry.insured_until_ms is None:
        return False
    return entry.insured_from_ms <= at_ms < entry.insured_until_ms


def within_shift(entry: RosterEntry, at_ms: int, policy: Policy) -> bool:
    early, late = policy.shift_early_min * 60_000, policy.shift_late_min * 60_000
    return any(start - early <= at_ms <= end + late for start, end, _ in entry.shifts)


def effective_time(device_ms: int, server_ms: int, online: bool, policy: Policy) -> tuple[int, tuple[str, ...]]:
    """The time a scan counts at: a live scan from a device whose clock is off takes the server's time."""
    if online and abs(device_ms - server_ms) > policy.clock_skew_s * 1000:
        return server_ms, (CLOCK_SKEW,)
    return device_ms, ()


def gate_mode(configured: str | None, requested: str) -> str | None:
    """The mode a scan is decided under: the kiosk may ask for entry/exit/auto at one of this event's gates."""
    if configured is None:
        return None
    return requested or configured


def service_day(at_ms: int, offset_min: int) -> int:
    """The day a scan falls in, for rest limits: days since 1970 at the event zone's UTC offset
    (the Lua twin keeps one offset per event; Taiwan has no daylight saving)."""
    return (at_ms + offset_min * 60_000) // 86_400_000


def day_offset_min(tz: str, at_ms: int) -> int:
    """The zone's UTC offset in minutes at a moment (the event's offset is fixed when it opens)."""
    offset = datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(ZoneInfo(tz)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def minutes_served_today(presence: Presence, day: int) -> int:
    return presence.day_minutes if presence.day == day else 0


def decide(facts: ScanFacts, presence: Presence, policy: Policy) -> Verdict:
    """The verdict for one scan, given the volunteer's presence before it."""
    warnings = list(facts.warnings)
    if not facts.event_open:
        return Verdict(REJECTED, EVENT_CLOSED, tuple(warnings))
    if facts.gate_mode is None:
        return Verdict(REJECTED, WRONG_GATE, tuple(warnings))
    if facts.card_reason is not None:
        return Verdict(REJECTED, facts.card_reason, tuple(warnings))
    if facts.revoked:
        return Verdict(REJECTED, REVOKED, tuple(warnings))
    entry = facts.volunteer
    if entry is None:
        return Verdict(REJECTED, NOT_ON_ROSTER, tuple(warnings))
    if policy.insurance != "off" and not insured(entry, facts.at_ms):
        if policy.insurance == "block":
            return Verdict(REJECTED, NOT_INSURED, tuple(warnings))
        warnings.append(NOT_INSURED)
    if presence.last_ms is not None and abs(facts.at_ms - presence.last_ms) < policy.debounce_s * 1000:
        return Verdict(DUPLICATE, DEBOUNCE, tuple(warnings))
    checking_in = not presence.on_site
    if facts.gate_mode == "entry" and presence.on_site:
        return Verdict(DUPLICATE, ALREADY_ON_SITE, tuple(warnings))
    if facts.gate_mode == "exit" and not presence.on_site:
        return Verdict(DUPLICATE, NOT_ON_SITE, tuple(warnings))
    continuous, daily = policy.rest_limits(entry.senior)
    served = minutes_served_today(presence, facts.day)
    if checking_in:
        if not within_shift(entry, facts.at_ms, policy):
            warnings.append(OUTSIDE_SHIFT)
        if daily and served >= daily:  # already served the day's maximum
            warnings.append(OVER_REST_LIMIT)
        return Verdict(CHECKED_IN, None, tuple(warnings))
    minutes = max(0, (facts.at_ms - (presence.checkin_ms or facts.at_ms)) // 60_000)
    if (continuous and minutes > continuous) or (daily and served + minutes > daily):
        warnings.append(OVER_REST_LIMIT)
    return Verdict(CHECKED_OUT, None, tuple(warnings), minutes, presence.checkin_scan_id)
