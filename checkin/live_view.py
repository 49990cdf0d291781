"""The live picture of one event, kept current entry by entry; pure, no I/O.

Built from a Redis snapshot (counters, presence, stream id) and the roster, then moved forward by
each stream entry after that id. `view()` gives what a coordinator's dashboard shows, in sections
that each carry absolute values, so a client that merges sections can never double count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from checkin.headcount import Fields, Snapshot, apply_entry
from checkin.live_roster import Roster, Shift

BUCKET_MS = 300_000  # the chart's arrivals and departures per 5 minutes
CHART_BUCKETS = 36  # three hours of them
RATE_WINDOW_MS = 60_000
UPCOMING_MS = 2 * 3600_000  # shifts starting this soon are listed before they start
MISSING_CAP = 100  # names listed per shift; the count is always complete
LOW_RATIO = 0.8  # below this share of the required people a post is short, not just low
SECTIONS = ("totals", "zones", "gates", "teams", "shifts", "missing", "chart")


@dataclass(frozen=True)
class Scope:
    """What one subscriber watches: a whole event, or one zone, or one team of it."""

    zone: str | None = None
    team: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"zone": self.zone, "team": self.team}


WHOLE_EVENT = Scope()


def staffing(present: int, required: int) -> str:
    if required <= 0:
        return "none"
    if present >= required:
        return "ok"
    return "low" if present >= LOW_RATIO * required else "short"


def _int(fields: Fields, name: bytes) -> int:
    raw = fields.get(name) or b""
    return int(raw) if raw.isdigit() else 0


class LiveState:
    def __init__(self, roster: Roster, snapshot: Snapshot, day_start_ms: int) -> None:
        self.roster = roster
        self.counts = dict(snapshot.counts)
        self.on_site = {vid for vid, (on, _) in snapshot.presence.items() if on}
        self.last_ms = {vid: last for vid, (_, last) in snapshot.presence.items()}
        self.stream_id = snapshot.stream_id
        self.day_start_ms = day_start_ms
        self.in_today = 0
        self.out_today = 0
        self.gates: dict[str, list[int]] = {}  # gate id -> [in today, out today, last scan ms]
        self.buckets: dict[int, list[int]] = {}  # bucket start ms -> [in, out]
        self.recent: deque[int] = deque()  # received ms of the last minute's entries
        self.last_received_ms = 0
        self.changes = 0  # bumped by every entry; the hub compares it to decide whether to look

    def apply(self, entry_id: str, fields: Fields) -> None:
        """An entry after the snapshot: move counters and presence as the scan script did."""
        apply_entry(self.counts, fields)
        verdict = fields.get(b"verdict", b"")
        vid = (fields.get(b"vol") or b"").decode()
        if vid and verdict in (b"checked_in", b"checked_out"):
            if verdict == b"checked_in":
                self.on_site.add(vid)
            else:
                self.on_site.discard(vid)
            self.last_ms[vid] = _int(fields, b"at")
        elif vid and verdict == b"annulled":  # the live state put back as checkin/lua/annul.lua did
            undo = fields.get(b"undo")
            if undo == b"in":
                self.on_site.discard(vid)
            elif undo == b"out":
                self.on_site.add(vid)
        self.stream_id = entry_id
        self.count_today(fields)

    def count_today(self, fields: Fields) -> None:
        """Today's figures (also replayed from the stream at start, where the counters already hold it)."""
        self.changes += 1
        rx = _int(fields, b"rx")
        self.last_received_ms = max(self.last_received_ms, rx)
        self.recent.append(rx)
        at = _int(fields, b"at")
        if at < self.day_start_ms:
            return  # a late replay of an earlier day: in the counters, not in today's figures
        verdict = fields.get(b"verdict", b"")
        gate = self.gates.setdefault((fields.get(b"gate") or b"").decode(), [0, 0, 0])
        gate[2] = max(gate[2], at)
        if verdict not in (b"checked_in", b"checked_out"):
            return
        side = 0 if verdict == b"checked_in" else 1
        gate[side] += 1
        bucket = self.buckets.setdefault(at - at % BUCKET_MS, [0, 0])
        bucket[side] += 1
        if side == 0:
            self.in_today += 1
        else:
            self.out_today += 1

    def new_day(self, day_start_ms: int) -> None:
        self.day_start_ms = day_start_ms
        self.in_today = self.out_today = 0
        self.gates.clear()
        self.buckets = {k: v for k, v in self.buckets.items() if k >= day_start_ms - CHART_BUCKETS * BUCKET_MS}
        self.changes += 1

    # ---- what a dashboard shows -------------------------------------------------------------

    def view(self, now_ms: int, scope: Scope = WHOLE_EVENT) -> dict[str, Any]:
        while self.recent and self.recent[0] < now_ms - RATE_WINDOW_MS:
            self.recent.popleft()
        active = [s for s in self.roster.shifts if s.starts_ms <= now_ms < s.ends_ms]
        upcoming = [s for s in self.roster.shifts if now_ms < s.starts_ms <= now_ms + UPCOMING_MS]
        if scope.zone:
            active = [s for s in active if s.zone_id == scope.zone]
            upcoming = [s for s in upcoming if s.zone_id == scope.zone]
        return {
            "totals": self._totals(),
            "zones": self._zones(active, scope),
            "gates": self._gates(scope),
            "teams": self._teams(active, scope),
            "shifts": [self._shift(s, now_ms, scope) for s in active + upcoming],
            "missing": [m for m in (self._missing(s, scope) for s in active) if m["count"]],
            "chart": self._chart(now_ms),
        }

    def _totals(self) -> dict[str, Any]:
        c = self.counts
        return {
            "on_site": c.get("on_site", 0), "checked_in_today": self.in_today, "checked_out_today": self.out_today,
            "checked_in_total": c.get("in_total", 0), "checked_out_total": c.get("out_total", 0),
            "duplicates": c.get("dup_total", 0), "rejected": c.get("rej_total", 0),
            "seniors_on_site": c.get("senior", 0), "scans_per_minute": len(self.recent),
            "last_received_ms": self.last_received_ms,
        }

    def _zones(self, active: list[Shift], scope: Scope) -> list[dict[str, Any]]:
        required: dict[str, int] = {}
        for s in active:
            required[s.zone_id] = required.get(s.zone_id, 0) + s.required
        ids = list(self.roster.zones)
        ids += sorted(k[5:] for k in self.counts if k.startswith("zone:") and k[5:] not in self.roster.zones)
        rows = []
        for zone_id in ids:
            if scope.zone and zone_id != scope.zone:
                continue
            present = self.counts.get("zone:" + zone_id, 0)
            need = required.get(zone_id, 0)
            rows.append({"zone_id": zone_id, "name": self.roster.zones.get(zone_id, zone_id), "present": present,
                         "required": need, "status": staffing(present, need)})
        return rows

    def _gates(self, scope: Scope) -> list[dict[str, Any]]:
        rows = []
        for gate_id, (zone_id, name) in self.roster.gates.items():
            if scope.zone and zone_id != scope.zone:
                continue
            seen = self.gates.get(gate_id, [0, 0, 0])
            rows.append({"gate_id": gate_id, "name": name, "zone_id": zone_id, "in": seen[0], "out": seen[1],
                         "last_scan_ms": seen[2] or None})
        return rows

    def _teams(self, active: list[Shift], scope: Scope) -> list[dict[str, Any]]:
        expected: dict[str, int] = {}
        for s in active:
            for team, n in s.teams.items():
                expected[team] = expected.get(team, 0) + n
        names = set(expected) | {k[5:] for k, v in self.counts.items() if k.startswith("team:") and v}
        if scope.team:
            names &= {scope.team}
        return [{"team": t, "present": self.counts.get("team:" + t, 0), "expected": expected.get(t, 0)}
                for t in sorted(names)]

    def _shift(self, s: Shift, now_ms: int, scope: Scope) -> dict[str, Any]:
        present = len(s.volunteers & self.on_site)
        started = s.starts_ms <= now_ms
        return {"shift_id": s.shift_id, "name": s.name, "zone_id": s.zone_id, "starts_ms": s.starts_ms,
                "ends_ms": s.ends_ms, "required": s.required, "assigned": len(s.volunteers), "present": present,
                "started": started, "status": staffing(present, s.required) if started else "none"}

    def _missing(self, s: Shift, scope: Scope) -> dict[str, Any]:
        """Assigned to a shift that has started, and not seen since a little before it began."""
        since = s.starts_ms - self.roster.early_ms
        people = self.roster.people
        ids = [v for v in s.volunteers - self.on_site if self.last_ms.get(v, 0) < since]
        if scope.team:
            ids = [v for v in ids if people.get(v, ("", ""))[1] == scope.team]
        ids.sort(key=lambda v: (people.get(v, ("", ""))[1], people.get(v, ("", ""))[0], v))
        return {"shift_id": s.shift_id, "name": s.name, "zone_id": s.zone_id, "count": len(ids),
                "people": [{"volunteer_id": v, "name": people.get(v, ("", ""))[0], "team": people.get(v, ("", ""))[1]}
                           for v in ids[:MISSING_CAP]]}

    def _chart(self, now_ms: int) -> dict[str, Any]:
        last = now_ms - now_ms % BUCKET_MS
        starts = [last - i * BUCKET_MS for i in range(CHART_BUCKETS - 1, -1, -1)]
        return {"bucket_ms": BUCKET_MS,
                "buckets": [[t, *self.buckets.get(t, [0, 0])] for t in starts]}
