"""The live picture's data, pure: what a snapshot of Redis holds (counters, presence, the stream position),
how one stream entry moves the counters (the scan script's twin), and what headcounts are measured against
(the event's zones, gates and shifts). Loaded by checkin.live.headcount (Redis) and checkin.live.roster
(Postgres); read by checkin.live.view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checkin.hours.model import HoursPolicy
from checkin.live.day_counts import count_scan

Fields = dict[bytes, bytes]  # a stream entry's fields, as Redis sends them


@dataclass
class Snapshot:
    counts: dict[str, int]
    presence: dict[str, tuple[bool, int]]  # volunteer id -> (on site, last scan ms)
    stream_id: str
    service_offset_ms: int | None = None  # what the scan script counts today's figures with; None: event not loaded


def apply_entry(counts: dict[str, int], fields: Fields, offset_ms: int) -> list[str]:
    """Move the counters as the scan script did for this entry (today's with the event's service offset);
    return the names that changed."""
    verdict = fields.get(b"verdict", b"").decode()
    zone = "zone:" + fields.get(b"zone", b"").decode()
    team = "team:" + fields.get(b"team", b"").decode()
    senior = fields.get(b"senior") == b"1"
    if verdict in ("checked_in", "checked_out"):
        step = 1 if verdict == "checked_in" else -1
        names = ["on_site", zone, team] + (["senior"] if senior else [])
        total = "in_total" if step == 1 else "out_total"
    elif verdict == "annulled":  # an undone scan (checkin/scan/lua/annul.lua): 'undo' says which step it took back
        step = {b"in": -1, b"out": 1}.get(fields.get(b"undo") or b"", 0)
        names = (["on_site", zone, team] + (["senior"] if senior else [])) if step else []
        total = "annul_total"
    else:
        step, names, total = 0, [], "dup_total" if verdict == "duplicate" else "rej_total"
    for name in names:
        counts[name] = counts.get(name, 0) + step
    counts[total] = counts.get(total, 0) + 1
    if verdict == "annulled":
        return names + [total]
    at = fields.get(b"at") or b""
    today = count_scan(counts, verdict, fields.get(b"reason", b"").decode(), fields.get(b"gate", b"").decode(),
                       int(at) if at.isdigit() else 0, offset_ms)
    return names + [total] + today


def shape(counts: dict[str, int]) -> dict[str, Any]:
    """The bare counters as JSON: totals plus per-zone and per-team maps."""
    out: dict[str, Any] = {
        "on_site": counts.get("on_site", 0),
        "checked_in": counts.get("in_total", 0),
        "checked_out": counts.get("out_total", 0),
        "duplicates": counts.get("dup_total", 0),
        "rejected": counts.get("rej_total", 0),
        "seniors_on_site": counts.get("senior", 0),
        "zones": {},
        "teams": {},
    }
    for name, value in counts.items():
        kind, _, key = name.partition(":")
        if kind == "zone":
            out["zones"][key] = value
        elif kind == "team":
            out["teams"][key] = value
    return out


@dataclass(frozen=True)
class Shift:
    shift_id: str
    zone_id: str
    name: str
    starts_ms: int
    ends_ms: int
    required: int
    volunteers: frozenset[str]
    teams: dict[str, int]  # team name -> assigned volunteers of that team


@dataclass(frozen=True)
class Roster:
    event_id: str
    name: str
    tz: str
    early_ms: int  # a check-in this long before a shift starts counts as arriving for it
    zones: dict[str, str]  # zone id -> name, in display order
    gates: dict[str, tuple[str, str]]  # gate id -> (zone id, name)
    shifts: list[Shift]
    hours: HoursPolicy  # the office's service-day rule: what "today" means on a dashboard
    service_offset_ms: int  # today's counters' offset, for when Redis has not got the event loaded
    people: dict[str, tuple[str, str]] = field(default_factory=dict)  # volunteer id -> (name, team)
