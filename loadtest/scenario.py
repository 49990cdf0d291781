"""The benchmark's Lantern Festival: zones, gates, shifts, kiosks and a seeded scan plan. Pure, no I/O.

The plan is what the gates would see over several festival days: arrivals on a curve before each
shift, departures after it, accidental double scans, forgotten check-outs, damaged and revoked
cards, and kiosks that lose the network and later replay their journal in one batch. Times are the
festival's own (2023); the load generator replays the plan in order, many times faster than life.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from checkin.roster.synth import FESTIVAL_OPENS

TZ = ZoneInfo("Asia/Taipei")
# (zone id, name, gates as (gate suffix, mode)); every zone has an entry, an exit and two desks.
ZONES = [
    ("huabo", "花博燈區"), ("ximen", "西門燈區"), ("station", "臺北車站"), ("yuanshan", "圓山轉運"),
    ("dadaocheng", "大稻埕碼頭"), ("songshan", "松山文創"), ("xinyi", "信義廣場"), ("beitou", "北投公園"),
]
GATE_MODES = [("in", "entry"), ("out", "exit"), ("desk1", "auto"), ("desk2", "auto")]
SHIFTS = [("am", "早班", time(9), time(14)), ("pm", "午班", time(13), time(18)), ("ev", "晚班", time(17), time(23))]

DOUBLE_SCAN = 0.03  # a nervous second scan seconds after the first
FORGOT_CHECKOUT = 0.01  # leaves without scanning out
INVALID_SCAN = 0.003  # a damaged or foreign QR code held up to a gate
REVOKED_SHARE = 0.005  # volunteers whose lost card was replaced; they bring the old one once
OFFLINE_DEVICES = 0.05  # kiosks that lose the network once during the plan
BATCH_MAX = 500  # a replayed journal goes up in batches of at most this many scans


@dataclass(frozen=True)
class Layout:
    event_id: str
    zones: list[tuple[str, str]]
    gates: list[tuple[str, str, str]]  # (gate id, zone id, mode)
    devices: list[str]  # gate id of each kiosk, by kiosk index
    days: list[date]

    def shift_id(self, zone_id: str, day: date, code: str) -> str:
        return f"{zone_id}-{day:%m%d}-{code}"

    def shifts(self) -> list[tuple[str, str, str, datetime, datetime]]:
        """(shift id, zone id, name, starts, ends) for every zone, day and shift."""
        out = []
        for zone_id, zone_name in self.zones:
            for day in self.days:
                for code, name, start, end in SHIFTS:
                    out.append((self.shift_id(zone_id, day, code), zone_id, f"{zone_name}{name}",
                                datetime.combine(day, start, TZ), datetime.combine(day, end, TZ)))
        return out


def make_layout(event_id: str, days: int, kiosks_per_gate: int, zones: int = len(ZONES)) -> Layout:
    chosen = ZONES[:zones]
    gates = [(f"{z}-{suffix}", z, mode) for z, _ in chosen for suffix, mode in GATE_MODES]
    devices = [gate_id for gate_id, _, _ in gates for _ in range(kiosks_per_gate)]
    return Layout(event_id, chosen, gates, devices, [FESTIVAL_OPENS + timedelta(days=d) for d in range(days)])


@dataclass(frozen=True, slots=True)
class Scan:
    at_ms: int  # the festival moment the kiosk stamps on the scan
    device: int  # kiosk index
    volunteer: int  # roster index, or -1 for a damaged code
    kind: str  # arrive, depart, double, invalid, revoked; toggle (the closed loop's in-or-out)
    seq: int = 0


@dataclass
class Unit:
    """What the generator sends in one request: one live scan, or a replayed journal batch."""

    at_ms: int
    device: int
    scans: list[Scan]
    batch: bool


@dataclass
class Plan:
    layout: Layout
    volunteers: int
    revoked: list[int]  # roster indexes whose first card is revoked (they also hold a new one)
    units: list[Unit]
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def scan_count(self) -> int:
        return sum(len(u.scans) for u in self.units)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def assignment(volunteer: int, layout: Layout) -> tuple[str, int]:
    """The zone and shift (index into SHIFTS) a volunteer works on every festival day."""
    zone = layout.zones[volunteer % len(layout.zones)][0]
    return zone, (volunteer // len(layout.zones)) % len(SHIFTS)


def _gate_devices(layout: Layout) -> dict[tuple[str, str], list[int]]:
    """(zone, "in" or "out") -> kiosks that can take that direction."""
    modes = {g: (z, m) for g, z, m in layout.gates}
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, gate_id in enumerate(layout.devices):
        zone, mode = modes[gate_id]
        if mode in ("entry", "auto"):
            out[(zone, "in")].append(index)
        if mode in ("exit", "auto"):
            out[(zone, "out")].append(index)
    return out


def make_plan(layout: Layout, volunteers: int, seed: int = 2023) -> Plan:
    rng = random.Random(seed)
    kiosks = _gate_devices(layout)
    revoked = sorted(rng.sample(range(volunteers), max(1, int(volunteers * REVOKED_SHARE))))
    brings_old_card = set(revoked)
    scans: list[Scan] = []
    for day in layout.days:
        for v in range(volunteers):
            zone, shift = assignment(v, layout)
            _, _, start, end = SHIFTS[shift]
            begins = _ms(datetime.combine(day, start, TZ))
            ends = _ms(datetime.combine(day, end, TZ))
            # Most arrive 15-30 minutes early; a few cut it fine or run late.
            arrive = begins + int(rng.triangular(-75, 15, -20) * 60_000) + rng.randrange(60_000)
            if v in brings_old_card:
                brings_old_card.discard(v)  # refused at the gate, then fetches the new card from the desk
                scans.append(Scan(arrive, rng.choice(kiosks[(zone, "in")]), v, "revoked"))
                arrive += rng.randrange(60_000, 300_000)
            device = rng.choice(kiosks[(zone, "in")])
            scans.append(Scan(arrive, device, v, "arrive"))
            if rng.random() < DOUBLE_SCAN:
                scans.append(Scan(arrive + rng.randrange(2_000, 30_000), device, v, "double"))
            if rng.random() < FORGOT_CHECKOUT:
                continue
            leave = ends + int(rng.triangular(-10, 45, 5) * 60_000) + rng.randrange(60_000)
            device = rng.choice(kiosks[(zone, "out")])
            scans.append(Scan(leave, device, v, "depart"))
            if rng.random() < DOUBLE_SCAN:
                scans.append(Scan(leave + rng.randrange(2_000, 30_000), device, v, "double"))
    for _ in range(int(len(scans) * INVALID_SCAN)):
        at = rng.choice(scans).at_ms + rng.randrange(-600_000, 600_000)
        scans.append(Scan(at, rng.randrange(len(layout.devices)), -1, "invalid"))
    scans.sort(key=lambda s: (s.at_ms, s.device))
    return Plan(layout, volunteers, revoked, _units(layout, scans, rng), _count_kinds(scans))


def _count_kinds(scans: list[Scan]) -> dict[str, int]:
    kinds: dict[str, int] = defaultdict(int)
    for s in scans:
        kinds[s.kind] += 1
    return dict(kinds)


def _units(layout: Layout, scans: list[Scan], rng: random.Random) -> list[Unit]:
    """Number each kiosk's scans, and gather an offline kiosk's scans into journal batches."""
    busy: dict[int, list[int]] = defaultdict(list)
    for s in scans:
        busy[s.device].append(s.at_ms)
    outages: dict[int, tuple[int, int]] = {}
    for device in rng.sample(sorted(busy), max(1, int(len(busy) * OFFLINE_DEVICES))):
        down = rng.choice(busy[device]) - 60_000  # the network drops while the kiosk is in use
        outages[device] = (down, down + rng.randrange(10, 45) * 60_000)
    seqs = [0] * len(layout.devices)
    journals: dict[int, list[Scan]] = defaultdict(list)
    units: list[Unit] = []
    for s in scans:
        seqs[s.device] += 1
        numbered = Scan(s.at_ms, s.device, s.volunteer, s.kind, seqs[s.device])
        window = outages.get(s.device)
        if window and window[0] <= s.at_ms < window[1]:
            journals[s.device].append(numbered)
        else:
            units.append(Unit(s.at_ms, s.device, [numbered], False))
    for device, journal in journals.items():
        back = outages[device][1]
        for i in range(0, len(journal), BATCH_MAX):
            units.append(Unit(back, device, journal[i:i + BATCH_MAX], True))
    units.sort(key=lambda u: (u.at_ms, u.device, u.scans[0].seq))
    return units


def closed_units(plan: Plan, count: int) -> list[Unit]:
    """The closed-loop phase's scans: every one a check-in or check-out (with debounce 0).

    Only the auto gates' kiosks send (an auto gate toggles a volunteer in and out), the roster is cycled
    so a card's next scan comes a whole roster later, and each kiosk's numbers go on from the plan's
    (the same kiosks sent those). Stamped on the day after the plan, 10 ms apart.
    """
    layout = plan.layout
    modes = {g: m for g, _, m in layout.gates}
    kiosks = [i for i, gate_id in enumerate(layout.devices) if modes[gate_id] == "auto"]
    seqs = [0] * len(layout.devices)
    for unit in plan.units:
        for scan in unit.scans:
            seqs[unit.device] = max(seqs[unit.device], scan.seq)
    start = _ms(datetime.combine(layout.days[-1] + timedelta(days=1), time(10), TZ))
    units = []
    for i in range(count):
        device = kiosks[i % len(kiosks)]
        seqs[device] += 1
        scan = Scan(start + 10 * i, device, i % plan.volunteers, "toggle", seqs[device])
        units.append(Unit(scan.at_ms, device, [scan], False))
    return units


def days_for(scans_needed: int, volunteers: int) -> int:
    """Festival days whose plan holds at least scans_needed scans (about 2.05 per volunteer a day)."""
    per_day = volunteers * 2.0
    return max(1, int(scans_needed / per_day) + 1)


def iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(TZ).isoformat(timespec="milliseconds")
