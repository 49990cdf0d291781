"""Today's figures as the scan script counts them: per service hour and per gate per service day; pure, no I/O.

The script keeps them in the event's counts hash beside the running totals, so they survive stream trimming and
every restart, and the rebuild after a Redis loss writes the same fields from the scans table. An hour is numbered
since 1970 in the event's service time (UTC plus `service_offset_ms`), so service day D is hours 24·D to 24·D+23,
by the office's rule (checkin.hours.service_day). Scan figures count what the gate answered: an annulment changes
who is on site, not what was scanned.
"""

from __future__ import annotations

from typing import Any

HOUR_MS = 3_600_000
HOURS = 24
SCAN_TAGS = {"checked_in": "in", "checked_out": "out", "duplicate": "dup", "rejected": "rej"}
OFF_GATE = "wrong_gate"  # a scan at a gate that is not the event's counts for the day, not for any gate


def hour_of(at_ms: int, offset_ms: int) -> int:
    return (at_ms + offset_ms) // HOUR_MS


def hour_field(tag: str, hour: int) -> str:
    return f"{tag}@{hour}"


def gate_field(kind: str, day: int, gate_id: str) -> str:
    """kind: 'gin' and 'gout' (check-ins and check-outs), 'gat' (the latest scan's time, ms)."""
    return f"{kind}@{day}:{gate_id}"


def count_scan(counts: dict[str, int], verdict: str, reason: str, gate_id: str, at_ms: int,
               offset_ms: int) -> list[str]:
    """Move the fields as the scan script does for one scan (the Python twin of its counter block)."""
    tag = SCAN_TAGS.get(verdict, "rej")
    hour = hour_of(at_ms, offset_ms)
    changed = [hour_field(tag, hour)]
    counts[changed[0]] = counts.get(changed[0], 0) + 1
    if reason != OFF_GATE:
        day = hour // HOURS
        if tag in ("in", "out"):
            name = gate_field("g" + tag, day, gate_id)
            counts[name] = counts.get(name, 0) + 1
            changed.append(name)
        last = gate_field("gat", day, gate_id)
        if at_ms > counts.get(last, 0):
            counts[last] = at_ms
            changed.append(last)
    return changed


def day_totals(counts: dict[str, int], day: int) -> dict[str, int]:
    """Check-ins, check-outs, duplicates and refusals of one service day."""
    first = day * HOURS
    return {tag: sum(counts.get(hour_field(tag, h), 0) for h in range(first, first + HOURS))
            for tag in SCAN_TAGS.values()}


def gate_day(counts: dict[str, int], day: int, gate_id: str) -> tuple[int, int, int]:
    """(check-ins, check-outs, latest scan ms or 0) at one gate on one service day."""
    return (counts.get(gate_field("gin", day, gate_id), 0), counts.get(gate_field("gout", day, gate_id), 0),
            counts.get(gate_field("gat", day, gate_id), 0))


def day_chart(counts: dict[str, int], day: int, offset_ms: int) -> dict[str, Any]:
    """Arrivals and departures per hour of the service day: [hour start ms, in, out] for each of its 24 hours."""
    first = day * HOURS
    return {"bucket_ms": HOUR_MS,
            "buckets": [[h * HOUR_MS - offset_ms, counts.get(hour_field("in", h), 0), counts.get(hour_field("out", h), 0)]
                        for h in range(first, first + HOURS)]}
