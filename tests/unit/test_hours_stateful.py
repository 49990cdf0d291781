"""checkin.hours.derive against an independent reference (tests/hours_reference.py) over generated event days.

A state machine plays one volunteer at an event: scans at several kiosks, some offline whose journals
upload late and out of order; double scans; forgotten check-outs; nights across midnight and 04:00; shifts
longer than a day; annulments by the kiosk (its last scan, in the undo window) and by an admin (any scan);
office corrections. A simulated gate answers each scan as checkin/scan/lua/scan.lua and annul.lua would (its
presence toggles in arrival order), so the log carries the labels a real gate gives. After every step the
hours checkin derives from that log must equal the reference's, as of the machine's clock and after the
event, and no service day may hold more than 24 h.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from checkin.hours.derive import derive_hours
from checkin.hours.model import Correction, HoursPolicy, LogScan, Shift
from tests import hours_reference as ref

TZ = ZoneInfo("Asia/Taipei")
IN, OUT, DUP = "checked_in", "checked_out", "duplicate"
DEVICES = ("K1", "K2", "K3")
UNDO_WINDOW = timedelta(minutes=15)
AFTER_THE_EVENT = datetime(2030, 1, 1, tzinfo=TZ)
# Shift lengths in minutes: a day shift, a night across midnight and 04:00, and two longer than a day.
SHIFT_MINUTES = (4 * 60, 8 * 60, 10 * 60, 30 * 60, 39 * 60 + 30)

policies = st.fixed_dictionaries({
    "rounding_step_minutes": st.sampled_from([1, 15, 30]),
    "rounding_mode": st.sampled_from(["down", "nearest"]),
    "rounding_scope": st.sampled_from(["day", "session"]),
    "min_session_minutes": st.sampled_from([0, 10]),
    "daily_cap_minutes": st.sampled_from([None, 480]),
    "break_minutes": st.sampled_from([0, 30]),
    "break_after_hours": st.sampled_from([None, 6]),
    "missing_checkout": st.sampled_from(["close_at_shift_end", "leave_open"]),
    "unpaired_checkout": st.sampled_from(["ignore", "from_shift_start"]),
})


@dataclass
class Gate:
    """The volunteer's live presence, kept as checkin/scan/lua/scan.lua and annul.lua keep it (arrival order):
    one step of history (pl, pcid), so an annulment puts it back only while the scan is the latest."""

    on: bool = False
    last: datetime | None = None
    cid: str | None = None  # the open check-in
    pl: datetime | None = None  # the accepted scan before the latest
    pcid: str | None = None  # the check-in the latest check-out closed
    closed_by: dict[str, str] = field(default_factory=dict)  # check-in -> the check-out that closed it

    def answer(self, scan_id: str, at: datetime) -> str:
        if self.last is not None and abs((at - self.last).total_seconds()) < 60:
            return DUP
        if self.on:
            if self.cid is not None:
                self.closed_by[self.cid] = scan_id
            self.on, self.pcid, self.cid = False, self.cid, None
        else:
            self.on, self.cid, self.pcid = True, scan_id, None
        verdict = IN if self.on else OUT
        self.pl, self.last = self.last, at
        return verdict

    def annul(self, scan: LogScan) -> bool:
        """True when the presence was put back."""
        if scan.verdict == IN and self.on and self.cid == scan.scan_id:
            self.on, self.last, self.cid, self.pl, self.pcid = False, self.pl, None, None, None
            return True
        if scan.verdict == OUT and not self.on and self.last == scan.at and self.pcid is not None:
            self.on, self.last, self.cid, self.pl, self.pcid = True, self.pl, self.pcid, None, None
            return True
        return False


def _order(span: tuple[datetime, datetime | None]) -> tuple[datetime, datetime]:
    return span[0], span[1] or AFTER_THE_EVENT  # an open session sorts after a closed one that starts with it


class EventDays(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.gate = Gate()
        self.log: list[LogScan] = []
        self.annulled: set[str] = set()
        self.journals: dict[str, list[tuple[str, datetime]]] = {d: [] for d in DEVICES}
        self.online = dict.fromkeys(DEVICES, True)
        self.made: list[tuple[str, str, datetime]] = []  # (scan id, device, time): every scan, sent or not
        self.corrections: list[Correction] = []
        self.count = 0
        self.scrambled = False

    @initialize(fields=policies, first_hour=st.integers(6, 21),
                lengths=st.lists(st.sampled_from(SHIFT_MINUTES), min_size=3, max_size=6),
                gaps=st.lists(st.integers(3 * 60, 30 * 60), min_size=6, max_size=6))
    def plan(self, fields: dict[str, object], first_hour: int, lengths: list[int], gaps: list[int]) -> None:
        self.policy = HoursPolicy(**fields)  # type: ignore[arg-type]
        self.rules = ref.Rules(
            TZ, step=self.policy.rounding_step_minutes, mode=self.policy.rounding_mode,
            scope=self.policy.rounding_scope, minimum=self.policy.min_session_minutes,
            cap=self.policy.daily_cap_minutes, missing=self.policy.missing_checkout,
            unpaired=self.policy.unpaired_checkout, break_minutes=self.policy.break_minutes,
            break_after_hours=self.policy.break_after_hours,
        )
        start = datetime(2024, 2, 10, first_hour, tzinfo=TZ)
        self.shifts: list[Shift] = []
        for i, (length, gap) in enumerate(zip(lengths, gaps, strict=False)):
            end = start + timedelta(minutes=length)
            self.shifts.append(Shift(f"sh{i}", "Z1", start, end))
            start = end + timedelta(minutes=gap)  # apart by more than twice the tolerance: one shift per moment
        self.clock = self.shifts[0].starts_at - timedelta(minutes=90)

    # --- the volunteer and the kiosks ------------------------------------------------------------

    def _send(self, scan_id: str, device: str, at: datetime) -> None:
        if self.log and at < max(s.at for s in self.log):
            self.scrambled = True  # the gate's labels no longer follow time order (the pairing repairs them)
        self.log.append(LogScan(scan_id, "V1", at, self.gate.answer(scan_id, at), "G-" + device, "Z1"))

    def _scan(self, device: str, at: datetime) -> str:
        self.count += 1
        scan_id = f"s{self.count:03d}"
        self.made.append((scan_id, device, at))
        if self.online[device]:
            self._send(scan_id, device, at)
        else:
            self.journals[device].append((scan_id, at))
        return scan_id

    @rule(device=st.sampled_from(DEVICES), minutes=st.integers(5, 9 * 60))
    def scan(self, device: str, minutes: int) -> None:
        self.clock += timedelta(minutes=minutes)
        self._scan(device, self.clock)

    @rule(seconds=st.integers(1, 59))
    def double_scan(self, seconds: int) -> None:
        """A nervous hand at the kiosk of the last scan."""
        if self.made:
            _, device, at = self.made[-1]
            self.clock = max(self.clock, at + timedelta(seconds=seconds))
            self._scan(device, at + timedelta(seconds=seconds))

    @rule(hours=st.integers(12, 50))
    def time_passes(self, hours: int) -> None:
        """Nothing scanned for a while: a forgotten check-out shows up at the next scan."""
        self.clock += timedelta(hours=hours)

    @rule(device=st.sampled_from(DEVICES))
    def network_lost(self, device: str) -> None:
        self.online[device] = False

    @rule(device=st.sampled_from(DEVICES))
    def network_back(self, device: str) -> None:
        """The journal uploads in the order it was made, maybe long after other kiosks' later scans."""
        self.online[device] = True
        for scan_id, at in self.journals[device]:
            self._send(scan_id, device, at)
        self.journals[device] = []

    @rule(away=st.sampled_from(DEVICES), steps=st.lists(st.tuples(st.booleans(), st.integers(5, 120)),
                                                         min_size=2, max_size=5))
    def outage(self, away: str, steps: list[tuple[bool, int]]) -> None:
        """One kiosk offline while another scans on: its journal reaches the gate after later scans."""
        other = next(d for d in DEVICES if d != away)
        self.network_lost(away)
        for at_away, minutes in steps:
            self.clock += timedelta(minutes=minutes)
            self._scan(away if at_away else other, self.clock)
        self.network_back(away)

    # --- annulments and corrections --------------------------------------------------------------

    def _annullable(self) -> list[LogScan]:
        return [s for s in self.log if s.verdict in (IN, OUT) and s.scan_id not in self.annulled]

    @rule()
    def kiosk_undoes_its_last_scan(self) -> None:
        last = self.log[-1] if self.log else None
        if (last is not None and last.verdict in (IN, OUT) and last.scan_id not in self.annulled
                and self.clock - last.at <= UNDO_WINDOW):
            self._annul(last)

    @rule(data=st.data())
    def admin_annuls(self, data: st.DataObject) -> None:
        choices = self._annullable()
        if choices:
            self._annul(data.draw(st.sampled_from(choices)))

    def _annul(self, scan: LogScan) -> None:
        """While the gate's labels follow time order, an annulment is exactly the scan never made: the latest
        one is put back at the gate; an earlier check-in goes with the check-out the gate closed it with."""
        put_back = self.gate.annul(scan)
        event("annulment put back at the gate" if put_back else "annulment after later scans")
        gone = {scan.scan_id}
        closer = self.gate.closed_by.get(scan.scan_id)
        if not put_back and scan.verdict == IN and closer is not None:
            gone.add(closer)
        # Earlier annulments that the gate did not put back leave its labels out of step with pairing.
        exact = not self.scrambled and not self.annulled and (len(gone) == 2 or put_back)
        self.annulled.add(scan.scan_id)
        if exact:
            with_it = derive_hours(self._log(), self.shifts, self.policy, volunteer_id="V1")
            without = derive_hours([s for s in self._log() if s.scan_id not in gone], self.shifts, self.policy,
                                   volunteer_id="V1")
            assert [(d.day, d.minutes) for d in with_it.days if d.minutes] == [
                (d.day, d.minutes) for d in without.days if d.minutes]

    def _keys(self) -> list[str]:
        out = ref.walk(self._ref_scans(), self._ref_shifts(), self.rules)
        return [v.key for v in out.visits]

    @rule(data=st.data(), action=st.sampled_from(["void", "change"]), minutes=st.integers(1, 40 * 60))
    def office_corrects(self, data: st.DataObject, action: str, minutes: int) -> None:
        keys = self._keys()
        if not keys:
            return
        key = data.draw(st.sampled_from(keys))
        start = next(v.start for v in ref.walk(self._ref_scans(), self._ref_shifts(), self.rules).visits
                     if v.key == key)
        end = start + timedelta(minutes=minutes) if action == "change" else None
        self._correct(action, key, None, end)

    @rule(offset=st.integers(0, 20 * 24 * 60), minutes=st.integers(1, 30 * 60))
    def office_adds_from_paper(self, offset: int, minutes: int) -> None:
        start = self.shifts[0].starts_at + timedelta(minutes=offset)
        self._correct("add", None, start, start + timedelta(minutes=minutes))

    def _correct(self, action: str, key: str | None, start: datetime | None, end: datetime | None) -> None:
        cid = f"c{len(self.corrections):03d}"
        at = datetime(2024, 3, 1, tzinfo=TZ) + timedelta(minutes=len(self.corrections))
        self.corrections.append(Correction(cid, action, key, start, end, "the paper sheet says so", "office", at))

    # --- what must hold ----------------------------------------------------------------------------

    def _ref_scans(self) -> list[ref.Scan]:
        return [ref.Scan(s.scan_id, s.at, s.verdict, s.scan_id in self.annulled) for s in self.log]

    def _ref_shifts(self) -> list[tuple[datetime, datetime]]:
        return [(s.starts_at, s.ends_at) for s in self.shifts]

    def _log(self) -> list[LogScan]:
        return [s._replace(annulled=s.scan_id in self.annulled) for s in self.log]

    def _agree(self, now: datetime) -> None:
        got = derive_hours(self._log(), self.shifts, self.policy, self.corrections, volunteer_id="V1", now=now)
        out = ref.walk(self._ref_scans(), self._ref_shifts(), self.rules, now)
        fixes = [ref.Fix(c.correction_id, c.action, c.session_key, c.start, c.end, c.at) for c in self.corrections]
        visits = ref.corrected(out.visits, fixes)
        want_pieces = sorted(((p.start, p.end) for v in visits for p in ref.pieces(v, self.rules)), key=_order)
        assert sorted(((s.start, s.end) for s in got.sessions), key=_order) == want_pieces
        assert {d.day: d.minutes for d in got.days} == ref.day_minutes(visits, self.rules)
        kinds = {"missing_checkout": out.missing, "unpaired_checkout": out.unpaired}
        for kind, ids in kinds.items():
            assert sorted(a.scan_ids[0] for a in got.anomalies if a.kind == kind) == sorted(ids), kind

    def teardown(self) -> None:
        if hasattr(self, "policy"):  # what the example reached, for --hypothesis-show-statistics
            got = derive_hours(self._log(), self.shifts, self.policy, self.corrections, volunteer_id="V1")
            for flag in ("split", "missing_checkout", "closed_at_shift_end", "order_repaired"):
                if any(flag in s.flags for s in got.sessions):
                    event(f"a session flagged {flag}")
            for kind in ("unpaired_checkout", "stale_correction"):
                if any(a.kind == kind for a in got.anomalies):
                    event(f"anomaly {kind}")
            if self.scrambled:
                event("late uploads out of order")

    @invariant()
    def hours_as_of_now_agree(self) -> None:
        if hasattr(self, "policy"):
            self._agree(self.clock)

    @invariant()
    def hours_after_the_event_agree(self) -> None:
        if hasattr(self, "policy"):
            self._agree(AFTER_THE_EVENT)

    @invariant()
    def no_service_day_holds_more_than_a_day(self) -> None:
        if hasattr(self, "policy"):
            no_fixes = derive_hours(self._log(), self.shifts, self.policy, volunteer_id="V1")
            per_day: dict[date, int] = {}
            for s in no_fixes.sessions:
                if s.end is not None:
                    per_day[s.day] = per_day.get(s.day, 0) + s.raw_minutes
            assert all(m <= 24 * 60 for m in per_day.values()), per_day


EventDays.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
test_hours_equal_the_reference = EventDays.TestCase


def test_the_reference_owes_nothing_to_checkin() -> None:
    tree = ast.parse(Path(ref.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported and not {m for m in imported if m.split(".")[0] in ("checkin", "tests")}
