"""The gate's decision for one scan: pure, no I/O.

`decide` is the reference; `checkin/scan/lua/scan.lua` applies the same rules atomically inside Redis,
and tests/integration/test_rules_parity.py holds the two to the same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from checkin.errors import Invalid
from checkin.vocabulary import GateMode, Reason, Refusal, Warning
from checkin.vocabulary import Verdict as Said

# The words, from checkin.vocabulary (one place for Python, the Lua twin and the kiosk's port).
CHECKED_IN, CHECKED_OUT, DUPLICATE, REJECTED = Said.CHECKED_IN, Said.CHECKED_OUT, Said.DUPLICATE, Said.REJECTED
EVENT_CLOSED, WRONG_GATE, INVALID_CARD = Reason.EVENT_CLOSED, Reason.WRONG_GATE, Reason.INVALID_CARD
UNKNOWN_KEY, REVOKED, NOT_ON_ROSTER, NOT_INSURED = Reason.UNKNOWN_KEY, Reason.REVOKED, Reason.NOT_ON_ROSTER, Reason.NOT_INSURED
DEBOUNCE, ALREADY_ON_SITE, NOT_ON_SITE = Reason.DEBOUNCE, Reason.ALREADY_ON_SITE, Reason.NOT_ON_SITE
CONFIRM_CHECKOUT = Reason.CONFIRM_CHECKOUT
SCAN_IN_FUTURE, OUTSIDE_EVENT_DATES = Refusal.SCAN_IN_FUTURE, Refusal.OUTSIDE_EVENT_DATES
GATE_NOT_ENROLLED = Refusal.GATE_NOT_ENROLLED
OUTSIDE_SHIFT, CLOCK_SKEW, OVER_REST_LIMIT = Warning.OUTSIDE_SHIFT, Warning.CLOCK_SKEW, Warning.OVER_REST_LIMIT

GATE_MODES = tuple(GateMode)


@dataclass(frozen=True)
class Policy:
    """An event's gate policy (stored in events.policy, copied into Redis when the event opens)."""

    debounce_s: int = 60
    insurance: str = "warn"  # "block", "warn" or "off"
    shift_early_min: int = 60  # a check-in this long before a shift starts is inside it
    shift_late_min: int = 60  # ... and this long after it ends
    # An online scan further than this from the server clock is re-stamped; a journal scan stamped later
    # than the server clock plus this is refused.
    clock_skew_s: int = 120
    scan_margin_min: int = 720  # scans count from this long before the event's first day to this long after its last
    tz: str = "Asia/Taipei"
    # Rest limits (0: none). The senior_* ones apply to volunteers aged 65+ when stricter.
    max_continuous_min: int = 0
    max_daily_min: int = 0
    senior_max_continuous_min: int = 0
    senior_max_daily_min: int = 0
    # At an auto gate a check-out this soon after the check-in (0: never) is asked to be confirmed: the first
    # scan answers duplicate/confirm_checkout, a second within confirm_s of it checks out. A volunteer unsure
    # whether the check-in worked scans again and must not be checked out by it.
    min_session_min: int = 0
    confirm_s: int = 30
    # The kiosk shows each answer at least this long before a later one replaces it.
    answer_min_ms: int = 2500

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
            raise Invalid(f"policy.insurance must be block, warn or off, got {policy.insurance!r}",
                          field="policy.insurance", zh=f"insurance 須為 block、warn 或 off，收到 {policy.insurance!r}")
        for name in ("debounce_s", "shift_early_min", "shift_late_min", "clock_skew_s", "scan_margin_min",
                     "max_continuous_min", "max_daily_min", "senior_max_continuous_min", "senior_max_daily_min",
                     "min_session_min", "confirm_s", "answer_min_ms"):
            value = getattr(policy, name)
            if not isinstance(value, int) or value < 0:
                raise Invalid(f"policy.{name} must be a whole number >= 0, got {value!r}",
                              field=f"policy.{name}", zh=f"{name} 須為 0 以上的整數，收到 {value!r}")
        if policy.min_session_min > 0 and policy.confirm_s < 1:  # no second scan could ever confirm
            raise Invalid("policy.confirm_s must be at least 1 when min_session_min is set",
                          field="policy.confirm_s", zh="設定 min_session_min 時，confirm_s 至少須為 1")
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
        """Read the roster record that checkin/events/store.py `roster_record` writes into Redis."""
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
    confirm_ms: int | None = None  # when a check-out was last asked to be confirmed (reason confirm_checkout)


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
    """The mode a scan is decided under. A kiosk may narrow an auto gate to entry or exit; at an entry or
    exit gate its request is ignored, so a token cannot check people out through an entry-only gate."""
    if configured is None:
        return None
    return requested if requested and configured == "auto" else configured


def scan_window(starts_on: date, ends_on: date, tz: str, policy: Policy) -> tuple[int, int]:
    """[from, until) in ms: the event's days in its time zone, widened by the policy's margin on each side."""
    zone, margin = ZoneInfo(tz), policy.scan_margin_min * 60_000
    first = datetime.combine(starts_on, time(0), zone)
    after = datetime.combine(ends_on + timedelta(days=1), time(0), zone)
    return int(first.timestamp() * 1000) - margin, int(after.timestamp() * 1000) + margin


def time_refusal(at_ms: int, server_ms: int, window: tuple[int, int] | None, policy: Policy) -> str | None:
    """Why a scan counting at `at_ms` (after effective_time) may not be stored at all, or None.

    A journal may replay hours-old scans, but never ones from the future or from outside the event: a
    stolen token would otherwise credit hours at any time (the Lua twin checks the same, before any write)."""
    if at_ms > server_ms + policy.clock_skew_s * 1000:
        return SCAN_IN_FUTURE
    if window is not None and not window[0] <= at_ms < window[1]:
        return OUTSIDE_EVENT_DATES
    return None


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


def needs_confirming(at_ms: int, presence: Presence, policy: Policy) -> bool:
    """A check-out of someone on site, this soon after their check-in, that no recent scan has confirmed."""
    if policy.min_session_min <= 0 or presence.checkin_ms is None:
        return False
    if at_ms - presence.checkin_ms >= policy.min_session_min * 60_000:
        return False
    asked = presence.confirm_ms
    return asked is None or not 0 <= at_ms - asked <= policy.confirm_s * 1000


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
    if facts.gate_mode == "auto" and needs_confirming(facts.at_ms, presence, policy):
        return Verdict(DUPLICATE, CONFIRM_CHECKOUT, tuple(warnings))
    minutes = max(0, (facts.at_ms - (presence.checkin_ms or facts.at_ms)) // 60_000)
    if (continuous and minutes > continuous) or (daily and served + minutes > daily):
        warnings.append(OVER_REST_LIMIT)
    return Verdict(CHECKED_OUT, None, tuple(warnings), minutes, presence.checkin_scan_id)
