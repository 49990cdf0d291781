"""The live picture of one event, kept current entry by entry; pure, no I/O.

Built from a Redis snapshot (counters, presence, stream id) and the roster, then moved forward by
each stream entry after that id. `view()` gives what a coordinator's dashboard shows, in sections
that each carry absolute values, so a client that merges sections can never double count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checkin.hours.derive import day_number, service_day
from checkin.live.day_counts import day_chart, day_totals, gate_day
from checkin.live.snapshot import Fields, Roster, Shift, Snapshot, apply_entry

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
    def __init__(self, roster: Roster, snapshot: Snapshot) -> None:
        self.roster = roster
        self.counts = dict(snapshot.counts)
        self.on_site = {vid for vid, (on, _) in snapshot.presence.items() if on}
        self.last_ms = {vid: last for vid, (_, last) in snapshot.presence.items()}
        self.stream_id = snapshot.stream_id
        # The scan script's offset when the event is loaded, so entries move today's fields as it did.
        self.offset_ms = roster.service_offset_ms if snapshot.service_offset_ms is None else snapshot.service_offset_ms
        self.recent: deque[int] = deque()  # received ms of the last minute's entries
        self.last_received_ms = 0
        self.changes = 0  # bumped by every entry; the hub compares it to decide whether to look

    def apply(self, entry_id: str, fields: Fields) -> None:
        """An entry after the snapshot: move counters and presence as the scan script did."""
        apply_entry(self.counts, fields, self.offset_ms)
        verdict = fields.get(b"verdict", b"")
        vid = (fields.get(b"vol") or b"").decode()
        if vid and verdict in (b"checked_in", b"checked_out"):
            if verdict == b"checked_in":
                self.on_site.add(vid)
            else:
                self.on_site.discard(vid)
            self.last_ms[vid] = _int(fields, b"at")
        elif vid and verdict == b"annulled":  # the live state put back as checkin/scan/lua/annul.lua did
            undo = fields.get(b"undo")
            if undo == b"in":
                self.on_site.discard(vid)
            elif undo == b"out":
                self.on_site.add(vid)
            if undo in (b"in", b"out"):  # last seen goes back to the scan before the undone one
                self.last_ms[vid] = _int(fields, b"last")
        self.stream_id = entry_id
        self.note_received(fields)

    def note_received(self, fields: Fields) -> None:
        """The scan rate (also replayed from the stream's last minute at start: counters already hold the rest)."""
        self.changes += 1
        rx = _int(fields, b"rx")
        self.last_received_ms = max(self.last_received_ms, rx)
        self.recent.append(rx)

    def today(self, now_ms: int) -> int:
        """The service day `now_ms` falls in, by the office's rule, as the counters number days."""
        return day_number(service_day(datetime.fromtimestamp(now_ms / 1000, UTC), self.roster.hours))

    # ---- what a dashboard shows -------------------------------------------------------------

    def view(self, now_ms: int, scope: Scope = WHOLE_EVENT) -> dict[str, Any]:
        while self.recent and self.recent[0] < now_ms - RATE_WINDOW_MS:
            self.recent.popleft()
        active = [s for s in self.roster.shifts if s.starts_ms <= now_ms < s.ends_ms]
        upcoming = [s for s in self.roster.shifts if now_ms < s.starts_ms <= now_ms + UPCOMING_MS]
        if scope.zone:
            active = [s for s in active if s.zone_id == scope.zone]
            upcoming = [s for s in upcoming if s.zone_id == scope.zone]
        day = self.today(now_ms)
        return {
            "totals": self._totals(day),
            "zones": self._zones(active, scope),
            "gates": self._gates(day, scope),
            "teams": self._teams(active, scope),
            "shifts": [self._shift(s, now_ms, scope) for s in active + upcoming],
            "missing": [m for m in (self._missing(s, scope) for s in active) if m["count"]],
            "chart": day_chart(self.counts, day, self.offset_ms),
        }

    def _totals(self, day: int) -> dict[str, Any]:
        c = self.counts
        today = day_totals(c, day)
        return {
            "on_site": c.get("on_site", 0), "checked_in_today": today["in"], "checked_out_today": today["out"],
            "duplicates_today": today["dup"], "rejected_today": today["rej"],
            "checked_in_total": c.get("in_total", 0), "checked_out_total": c.get("out_total", 0),
            "duplicates": c.get("dup_total", 0), "rejected": c.get("rej_total", 0),
            "seniors_on_site": c.get("senior", 0), "scans_per_minute": len(self.recent),
            "last_received_ms": self.last_received_ms, "service_day_start_ms": day * 86_400_000 - self.offset_ms,
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

    def _gates(self, day: int, scope: Scope) -> list[dict[str, Any]]:
        rows = []
        for gate_id, (zone_id, name) in self.roster.gates.items():
            if scope.zone and zone_id != scope.zone:
                continue
            seen = gate_day(self.counts, day, gate_id)
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
