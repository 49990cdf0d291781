"""The gate rules as a table of cases: one table, run through `checkin.rules.decide` (tests/unit/test_rules.py)
and through the Lua script in Redis (tests/integration/test_rules_parity.py).

A case whose verdict is NOT_STORED expects `rules.time_refusal` to refuse the scan (its reason is the code):
the script then writes nothing at all.

Times are the 2023 Lantern Festival evening in Taipei: a shift 18:00-22:00 on 5 February, accident
insurance through 5 February (so it ends at midnight, Taipei time).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from checkin.scan.rules import (
    ALREADY_ON_SITE,
    CHECKED_IN,
    CHECKED_OUT,
    CLOCK_SKEW,
    CONFIRM_CHECKOUT,
    DEBOUNCE,
    DUPLICATE,
    EVENT_CLOSED,
    INVALID_CARD,
    NOT_INSURED,
    NOT_ON_ROSTER,
    NOT_ON_SITE,
    OUTSIDE_EVENT_DATES,
    OUTSIDE_SHIFT,
    OVER_REST_LIMIT,
    REJECTED,
    REVOKED,
    SCAN_IN_FUTURE,
    UNKNOWN_KEY,
    WRONG_GATE,
    Policy,
    Presence,
    day_offset_min,
    service_day,
)

TZ = ZoneInfo("Asia/Taipei")
T0 = datetime(2023, 2, 5, 18, 0, tzinfo=TZ)  # the shift starts
SHIFT = (T0, T0 + timedelta(hours=4))
INSURED = (date(2023, 1, 1), date(2023, 2, 5))  # covered until 2023-02-06 00:00 Taipei time
MIDNIGHT = datetime(2023, 2, 6, 0, 0, tzinfo=TZ)
SENIOR_FROM_YEAR = 2023 - 65
CARD_ID = "CARDAAAA"
VOLUNTEER_ID = "V-0001"
CHECKIN_SCAN = "00000000-0000-4000-8000-000000000001"
MS = timedelta(milliseconds=1)
EVENT_DAYS = (date(2023, 2, 5), date(2023, 2, 6))
FIRST_DAY = datetime(2023, 2, 5, 0, 0, tzinfo=TZ)
AFTER_LAST_DAY = datetime(2023, 2, 7, 0, 0, tzinfo=TZ)
MARGIN = timedelta(minutes=Policy().scan_margin_min)
NOT_STORED = "not stored"  # refused before any verdict: nothing written


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Volunteer:
    """A volunteer on the roster, as Postgres holds them (dates and datetimes, not milliseconds)."""

    insured: tuple[date, date] | None = INSURED
    shifts: tuple[tuple[datetime, datetime], ...] = (SHIFT,)
    birth_year: int = 1990


@dataclass(frozen=True)
class Case:
    name: str
    verdict: str
    reason: str | None = None
    warnings: tuple[str, ...] = ()
    minutes: int | None = None
    at: datetime = T0  # the device's clock when it scanned
    server: datetime | None = None  # the server's clock on receipt (default: the same as the device's)
    online: bool = True  # sent live (POST /scans) rather than replayed from a journal (POST /scans/batch)
    gate: str | None = "auto"  # the gate's configured mode; None: the gate is not one of this event's
    mode: str = ""  # the mode the kiosk asked for ("" for the gate's own)
    policy: Policy = field(default_factory=Policy)
    event_open: bool = True
    card_reason: str | None = None  # invalid_card / unknown_key from the signature check
    revoked: bool = False
    volunteer: Volunteer | None = field(default_factory=Volunteer)
    presence: Presence = field(default_factory=Presence)
    days: tuple[date, date] = EVENT_DAYS  # the event's first and last day

    @property
    def server_ms(self) -> int:
        return ms(self.server or self.at)


def roster_row(vol: Volunteer) -> dict[str, Any]:
    """The row checkin/events/store.py `roster_record` reads (the shape of its roster query)."""
    return {
        "volunteer_id": VOLUNTEER_ID, "name": "陳小明", "team": "燈會志工隊", "birth_year": vol.birth_year,
        "insured_from": vol.insured[0] if vol.insured else None, "insured_to": vol.insured[1] if vol.insured else None,
        "shift_ids": [f"S{i}" for i in range(len(vol.shifts))], "zones": ["main"],
        "starts": [a for a, _ in vol.shifts], "ends": [b for _, b in vol.shifts],
    }


def presence_record(p: Presence) -> dict[str, Any]:
    """Presence as the Lua script keeps it in the event's presence hash (absent fields left out)."""
    record: dict[str, Any] = {"on": 1 if p.on_site else 0, "z": p.zone or "main"}
    for key, value in (("last", p.last_ms), ("cid", p.checkin_scan_id), ("cat", p.checkin_ms), ("dd", p.day),
                       ("cf", p.confirm_ms)):
        if value is not None:
            record[key] = value
    if p.day is not None:
        record["dm"] = p.day_minutes
    return record


def on_site(since: datetime, last: datetime | None = None) -> Presence:
    """Checked in at `since` (and last accepted scan at `last`, default the same)."""
    return Presence(True, ms(last or since), CHECKIN_SCAN, ms(since), "main")


def off_site(last: datetime) -> Presence:
    return Presence(False, ms(last), None, None, "main")


def served(p: Presence, minutes: int, day_shift: int = 0) -> Presence:
    """The presence with `minutes` of finished sessions on T0's service day (or `day_shift` days off it)."""
    return replace(p, day=TODAY + day_shift, day_minutes=minutes)


TODAY = service_day(ms(T0), day_offset_min("Asia/Taipei", ms(T0)))
SENIOR = Volunteer(birth_year=SENIOR_FROM_YEAR)
BLOCK = Policy(insurance="block")
OFF = Policy(insurance="off")
LAPSED = Volunteer(insured=(date(2023, 1, 1), date(2023, 2, 4)))
TWO_HOURS_IN = on_site(T0 - timedelta(hours=2))
CONFIRM = Policy(min_session_min=10)  # a check-out within 10 min of the check-in asks for a second scan
FIVE_MIN_IN = on_site(T0 - timedelta(minutes=5))


def asked(p: Presence, ago: timedelta) -> Presence:
    """The presence after a scan `ago` before T0 was asked to confirm a check-out."""
    return replace(p, confirm_ms=ms(T0 - ago))


CASES: list[Case] = [
    # Verdicts and gate modes
    Case("auto gate, off site: checks in", CHECKED_IN),
    Case("auto gate, on site: checks out", CHECKED_OUT, minutes=120, presence=TWO_HOURS_IN),
    Case("auto gate, checked out earlier: checks in again", CHECKED_IN, presence=off_site(T0 - timedelta(hours=1))),
    Case("entry gate, off site: checks in", CHECKED_IN, gate="entry"),
    Case("entry gate, on site: duplicate", DUPLICATE, ALREADY_ON_SITE, gate="entry", presence=TWO_HOURS_IN),
    Case("exit gate, on site: checks out", CHECKED_OUT, minutes=120, gate="exit", presence=TWO_HOURS_IN),
    Case("exit gate, off site: duplicate", DUPLICATE, NOT_ON_SITE, gate="exit"),
    Case("exit gate, checked out earlier: duplicate", DUPLICATE, NOT_ON_SITE, gate="exit",
         presence=off_site(T0 - timedelta(hours=1))),
    Case("kiosk asks entry at an auto gate, on site", DUPLICATE, ALREADY_ON_SITE, mode="entry", presence=TWO_HOURS_IN),
    Case("kiosk asks exit at an auto gate, off site", DUPLICATE, NOT_ON_SITE, mode="exit"),
    # An entry or exit gate ignores what the kiosk asks: a token cannot check out through an entry-only gate
    Case("kiosk asks exit at an entry gate, on site: ignored", DUPLICATE, ALREADY_ON_SITE, gate="entry", mode="exit",
         presence=TWO_HOURS_IN),
    Case("kiosk asks auto at an exit gate, off site: ignored", DUPLICATE, NOT_ON_SITE, gate="exit", mode="auto"),
    Case("kiosk asks entry at an exit gate, on site: ignored", CHECKED_OUT, minutes=120, gate="exit", mode="entry",
         presence=TWO_HOURS_IN),
    Case("session minutes round down", CHECKED_OUT, minutes=75, at=T0 + timedelta(minutes=76) - MS,
         presence=on_site(T0)),
    Case("offline check-out stamped before its check-in: zero minutes", CHECKED_OUT, minutes=0, online=False,
         at=T0 - timedelta(minutes=5), presence=on_site(T0)),
    # Rejections, in the order they are checked
    Case("event closed", REJECTED, EVENT_CLOSED, event_open=False),
    Case("event closed comes before a bad card", REJECTED, EVENT_CLOSED, event_open=False, card_reason=INVALID_CARD),
    Case("gate of another event", REJECTED, WRONG_GATE, gate=None),
    Case("gate of another event, whatever mode is asked", REJECTED, WRONG_GATE, gate=None, mode="entry"),
    Case("forged or malformed card", REJECTED, INVALID_CARD, card_reason=INVALID_CARD, volunteer=None),
    Case("card signed with an unknown key", REJECTED, UNKNOWN_KEY, card_reason=UNKNOWN_KEY, volunteer=None),
    Case("revoked card", REJECTED, REVOKED, revoked=True, volunteer=None),
    Case("revoked card of a rostered volunteer", REJECTED, REVOKED, revoked=True),
    Case("valid card, not on this event's roster", REJECTED, NOT_ON_ROSTER, volunteer=None),
    Case("uninsured, policy block", REJECTED, NOT_INSURED, policy=BLOCK, volunteer=LAPSED),
    Case("no insurance on record, policy block", REJECTED, NOT_INSURED, policy=BLOCK,
         volunteer=Volunteer(insured=None)),
    Case("uninsured, policy block, inside the debounce window", REJECTED, NOT_INSURED, policy=BLOCK,
         volunteer=LAPSED, presence=on_site(T0 - timedelta(seconds=10))),
    Case("rejected at the exit gate while on site", REJECTED, NOT_ON_ROSTER, gate="exit", volunteer=None,
         presence=TWO_HOURS_IN),
    # Insurance edges (the last insured day ends at midnight in the event's time zone)
    Case("insured until the last millisecond of the day", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), policy=BLOCK,
         at=MIDNIGHT - MS),
    Case("insurance over at midnight", REJECTED, NOT_INSURED, policy=BLOCK, at=MIDNIGHT),
    Case("insured from the first moment of the first day", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), policy=BLOCK,
         at=datetime(2023, 2, 5, 0, 0, tzinfo=TZ), volunteer=Volunteer(insured=(date(2023, 2, 5), date(2023, 2, 6)))),
    Case("not yet insured the moment before", REJECTED, NOT_INSURED, policy=BLOCK,
         at=datetime(2023, 2, 5, 0, 0, tzinfo=TZ) - MS,
         volunteer=Volunteer(insured=(date(2023, 2, 5), date(2023, 2, 6)))),
    # Warnings
    Case("uninsured, policy warn", CHECKED_IN, warnings=(NOT_INSURED,), volunteer=LAPSED),
    Case("uninsured, policy warn, checking out", CHECKED_OUT, warnings=(NOT_INSURED,), minutes=120,
         volunteer=LAPSED, presence=TWO_HOURS_IN),
    Case("uninsured, policy off", CHECKED_IN, policy=OFF, volunteer=Volunteer(insured=None)),
    Case("shift: exactly the early tolerance before it starts", CHECKED_IN, at=T0 - timedelta(minutes=60)),
    Case("shift: a millisecond earlier", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), at=T0 - timedelta(minutes=60) - MS),
    Case("shift: exactly the late tolerance after it ends", CHECKED_IN, at=SHIFT[1] + timedelta(minutes=60)),
    Case("shift: a millisecond later", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), at=SHIFT[1] + timedelta(minutes=60) + MS),
    Case("shift: no early tolerance", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), at=T0 - MS,
         policy=Policy(shift_early_min=0)),
    Case("shift: wide early tolerance", CHECKED_IN, at=T0 - timedelta(minutes=180),
         policy=Policy(shift_early_min=180)),
    Case("shift: inside the second of two", CHECKED_IN, at=T0 + timedelta(days=1, hours=1), policy=OFF,
         volunteer=Volunteer(shifts=(SHIFT, (T0 + timedelta(days=1), T0 + timedelta(days=1, hours=4))))),
    Case("no shift on the roster", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), volunteer=Volunteer(shifts=())),
    Case("checking out after the shift gives no shift warning", CHECKED_OUT, minutes=390,
         at=SHIFT[1] + timedelta(minutes=30), presence=on_site(T0 - timedelta(hours=2)),
         policy=Policy(shift_late_min=0)),
    # Device clock
    Case("online, device clock 10 min slow: server time", CHECKED_IN, warnings=(CLOCK_SKEW,),
         at=T0 - timedelta(minutes=10), server=T0),
    Case("online, exactly the allowed skew: device time", CHECKED_IN, at=T0 - timedelta(seconds=120), server=T0),
    Case("online, a millisecond past the allowed skew", CHECKED_IN, warnings=(CLOCK_SKEW,),
         at=T0 - timedelta(seconds=120) - MS, server=T0),
    Case("online, device clock fast", CHECKED_IN, warnings=(CLOCK_SKEW,), at=T0 + timedelta(hours=1), server=T0),
    Case("online skew: the shift is judged at server time", CHECKED_IN, warnings=(CLOCK_SKEW,),
         at=T0 - timedelta(hours=10), server=T0),
    Case("offline replay keeps device time (hours old)", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), online=False,
         at=T0 - timedelta(hours=10), server=T0),
    Case("offline replay, hours later, checks out at device time", CHECKED_OUT, minutes=30, online=False,
         at=T0 + timedelta(minutes=30), server=T0 + timedelta(hours=5), presence=on_site(T0)),
    Case("tight skew policy", CHECKED_IN, warnings=(CLOCK_SKEW,), at=T0 - timedelta(seconds=11), server=T0,
         policy=Policy(clock_skew_s=10)),
    Case("every warning at once", CHECKED_IN, warnings=(CLOCK_SKEW, NOT_INSURED, OUTSIDE_SHIFT),
         at=T0, server=T0 + timedelta(hours=8)),
    Case("warnings kept on a rejection", REJECTED, EVENT_CLOSED, warnings=(CLOCK_SKEW,), event_open=False,
         at=T0 - timedelta(hours=1), server=T0),
    # Times no journal can honestly hold: refused, nothing stored
    Case("journal scan past the server clock plus the skew allowance", NOT_STORED, SCAN_IN_FUTURE, online=False,
         at=T0 + timedelta(seconds=120) + MS, server=T0),
    Case("journal scan exactly at the skew allowance", CHECKED_IN, online=False, at=T0 + timedelta(seconds=120),
         server=T0),
    Case("journal scan stamped in 2199", NOT_STORED, SCAN_IN_FUTURE, online=False,
         at=datetime(2199, 1, 1, tzinfo=TZ), server=T0),
    Case("live scan from a clock in 2199: server time, not refused", CHECKED_IN, warnings=(CLOCK_SKEW,),
         at=datetime(2199, 1, 1, tzinfo=TZ), server=T0),
    Case("journal scan a year before the event", NOT_STORED, OUTSIDE_EVENT_DATES, online=False,
         at=T0 - timedelta(days=365), server=T0),
    Case("journal scan at the start of the margin before the first day", CHECKED_IN, warnings=(OUTSIDE_SHIFT,),
         online=False, at=FIRST_DAY - MARGIN, server=T0),
    Case("journal scan a millisecond before the margin", NOT_STORED, OUTSIDE_EVENT_DATES, online=False,
         at=FIRST_DAY - MARGIN - MS, server=T0),
    Case("journal scan at the last moment of the margin after the last day", CHECKED_IN,
         warnings=(NOT_INSURED, OUTSIDE_SHIFT), online=False, at=AFTER_LAST_DAY + MARGIN - MS,
         server=AFTER_LAST_DAY + MARGIN),
    Case("journal scan at the end of the margin", NOT_STORED, OUTSIDE_EVENT_DATES, online=False,
         at=AFTER_LAST_DAY + MARGIN, server=AFTER_LAST_DAY + MARGIN),
    Case("no margin: the day after the last is refused", NOT_STORED, OUTSIDE_EVENT_DATES, online=False,
         at=AFTER_LAST_DAY, server=AFTER_LAST_DAY, policy=Policy(scan_margin_min=0)),
    Case("live scan while the event is not on", NOT_STORED, OUTSIDE_EVENT_DATES, at=T0 + timedelta(days=5)),
    Case("a one-day event", NOT_STORED, OUTSIDE_EVENT_DATES, online=False, at=T0 + timedelta(days=1),
         server=T0 + timedelta(days=1), days=(date(2023, 2, 5), date(2023, 2, 5))),
    Case("refused before the event's status is looked at", NOT_STORED, SCAN_IN_FUTURE, online=False,
         event_open=False, at=T0 + timedelta(hours=1), server=T0),
    # Debounce: the same volunteer at any gate within the window is a duplicate and changes nothing
    Case("debounce: just inside the window", DUPLICATE, DEBOUNCE, at=T0 + timedelta(seconds=60) - MS,
         presence=on_site(T0)),
    Case("debounce: exactly at the window", CHECKED_OUT, minutes=1, at=T0 + timedelta(seconds=60),
         presence=on_site(T0)),
    Case("debounce: just outside the window", CHECKED_OUT, minutes=1, at=T0 + timedelta(seconds=61),
         presence=on_site(T0)),
    Case("debounce: same moment", DUPLICATE, DEBOUNCE, presence=on_site(T0)),
    Case("debounce after a check-out", DUPLICATE, DEBOUNCE, at=T0 + timedelta(seconds=30), presence=off_site(T0)),
    Case("debounce: an offline scan stamped just before the last", DUPLICATE, DEBOUNCE, online=False,
         at=T0 - timedelta(seconds=60) + MS, server=T0 + timedelta(hours=1), presence=on_site(T0)),
    Case("debounce comes before the gate's direction", DUPLICATE, DEBOUNCE, gate="entry",
         at=T0 + timedelta(seconds=5), presence=on_site(T0)),
    Case("debounce at an exit gate while off site", DUPLICATE, DEBOUNCE, gate="exit",
         at=T0 + timedelta(seconds=5), presence=off_site(T0)),
    Case("debounce counts from the last accepted scan, not the check-in", DUPLICATE, DEBOUNCE,
         at=T0 + timedelta(seconds=30), presence=on_site(T0 - timedelta(hours=1), last=T0)),
    Case("debounce 0: never a duplicate", CHECKED_OUT, minutes=0, presence=on_site(T0),
         policy=Policy(debounce_s=0)),
    Case("debounce 120 s: 90 s later is a duplicate", DUPLICATE, DEBOUNCE, at=T0 + timedelta(seconds=90),
         presence=on_site(T0), policy=Policy(debounce_s=120)),
    Case("debounce on server time when the device clock is off", DUPLICATE, DEBOUNCE, warnings=(CLOCK_SKEW,),
         at=T0 + timedelta(minutes=5), server=T0 + timedelta(seconds=30), presence=on_site(T0)),
    Case("debounce keeps the insurance warning", DUPLICATE, DEBOUNCE, warnings=(NOT_INSURED,), volunteer=LAPSED,
         at=T0 + timedelta(seconds=5), presence=on_site(T0)),
    # Confirm to check out: at an auto gate a check-out soon after the check-in waits for a second scan
    Case("confirm: 5 min after checking in, asked to confirm", DUPLICATE, CONFIRM_CHECKOUT, presence=FIVE_MIN_IN,
         policy=CONFIRM),
    Case("confirm: a millisecond before the minimum session", DUPLICATE, CONFIRM_CHECKOUT,
         at=T0 + timedelta(minutes=10) - MS, presence=on_site(T0), policy=CONFIRM),
    Case("confirm: at the minimum session, checks out at once", CHECKED_OUT, minutes=10,
         at=T0 + timedelta(minutes=10), presence=on_site(T0), policy=CONFIRM),
    Case("confirm: the second scan 20 s after the first checks out", CHECKED_OUT, minutes=5,
         presence=asked(FIVE_MIN_IN, timedelta(seconds=20)), policy=CONFIRM),
    Case("confirm: the second scan exactly at the window's end", CHECKED_OUT, minutes=5,
         presence=asked(FIVE_MIN_IN, timedelta(seconds=30)), policy=CONFIRM),
    Case("confirm: a scan past the window is asked again", DUPLICATE, CONFIRM_CHECKOUT,
         presence=asked(FIVE_MIN_IN, timedelta(seconds=30) + MS), policy=CONFIRM),
    Case("confirm: a longer window", CHECKED_OUT, minutes=5, presence=asked(FIVE_MIN_IN, timedelta(seconds=50)),
         policy=Policy(min_session_min=10, confirm_s=60)),
    Case("confirm: an offline scan stamped before the confirm is asked again", DUPLICATE, CONFIRM_CHECKOUT,
         online=False, at=T0 - timedelta(seconds=1), server=T0 + timedelta(minutes=5),
         presence=asked(FIVE_MIN_IN, timedelta(0)), policy=CONFIRM),
    Case("confirm: debounce comes first", DUPLICATE, DEBOUNCE, at=T0 + timedelta(seconds=30), presence=on_site(T0),
         policy=CONFIRM),
    Case("confirm: not at an exit gate", CHECKED_OUT, minutes=5, gate="exit", presence=FIVE_MIN_IN, policy=CONFIRM),
    Case("confirm: not when the kiosk asks exit at an auto gate", CHECKED_OUT, minutes=5, mode="exit",
         presence=FIVE_MIN_IN, policy=CONFIRM),
    Case("confirm: an entry gate says already on site", DUPLICATE, ALREADY_ON_SITE, gate="entry",
         presence=FIVE_MIN_IN, policy=CONFIRM),
    Case("confirm: never a check-in", CHECKED_IN, presence=off_site(T0 - timedelta(minutes=5)), policy=CONFIRM),
    Case("confirm: min_session_min 0 never asks", CHECKED_OUT, minutes=5, presence=FIVE_MIN_IN),
    # Rest limits: a warning, never a refusal
    Case("rest: session longer than the continuous maximum", CHECKED_OUT, warnings=(OVER_REST_LIMIT,), minutes=120,
         presence=TWO_HOURS_IN, policy=Policy(max_continuous_min=119)),
    Case("rest: session exactly the continuous maximum", CHECKED_OUT, minutes=120, presence=TWO_HOURS_IN,
         policy=Policy(max_continuous_min=120)),
    Case("rest: stricter continuous maximum for a senior", CHECKED_OUT, warnings=(OVER_REST_LIMIT,), minutes=120,
         volunteer=SENIOR, presence=TWO_HOURS_IN, policy=Policy(max_continuous_min=180, senior_max_continuous_min=90)),
    Case("rest: the senior maximum does not apply to the young", CHECKED_OUT, minutes=120, presence=TWO_HOURS_IN,
         policy=Policy(max_continuous_min=180, senior_max_continuous_min=90)),
    Case("rest: only a senior maximum set", CHECKED_OUT, warnings=(OVER_REST_LIMIT,), minutes=120, volunteer=SENIOR,
         presence=TWO_HOURS_IN, policy=Policy(senior_max_continuous_min=60)),
    Case("rest: day's maximum served, checking in again", CHECKED_IN, warnings=(OVER_REST_LIMIT,),
         presence=served(off_site(T0 - timedelta(hours=1)), 240), policy=Policy(max_daily_min=240)),
    Case("rest: day's maximum not yet served", CHECKED_IN, presence=served(off_site(T0 - timedelta(hours=1)), 239),
         policy=Policy(max_daily_min=240)),
    Case("rest: yesterday's minutes do not count today", CHECKED_IN,
         presence=served(off_site(T0 - timedelta(hours=20)), 600, day_shift=-1), policy=Policy(max_daily_min=240)),
    Case("rest: a check-out that takes the day past its maximum", CHECKED_OUT, warnings=(OVER_REST_LIMIT,),
         minutes=120, presence=served(TWO_HOURS_IN, 200), policy=Policy(max_daily_min=300)),
    Case("rest: a check-out that ends the day exactly at its maximum", CHECKED_OUT, minutes=120,
         presence=served(TWO_HOURS_IN, 180), policy=Policy(max_daily_min=300)),
    Case("rest: stricter daily maximum for a senior", CHECKED_IN, warnings=(OVER_REST_LIMIT,), volunteer=SENIOR,
         presence=served(off_site(T0 - timedelta(hours=1)), 200), policy=Policy(max_daily_min=480,
                                                                                 senior_max_daily_min=180)),
    Case("rest: outside the shift and over the limit, both warned", CHECKED_IN,
         warnings=(OUTSIDE_SHIFT, OVER_REST_LIMIT), at=T0 + timedelta(hours=5, minutes=10),
         presence=served(off_site(T0), 300), policy=Policy(max_daily_min=300)),
    # The insured day ends at midnight in the event's time zone, not the server's
    Case("insurance day in the event's time zone (UTC)", CHECKED_IN, warnings=(OUTSIDE_SHIFT,), at=MIDNIGHT,
         policy=Policy(insurance="block", tz="UTC")),
]
