"""Events, their zones, gates and shifts in Postgres, and loading an open event into Redis."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from checkin.events.gate_copy import note_card_changes
from checkin.events.note_store import EventNotes, event_notes
from checkin.hours.derive import event_hours_policy, service_offset_ms
from checkin.keys import EventKeys, Keys
from checkin.roster.csv import without_bidi_controls
from checkin.scan.rules import Policy, day_offset_min, scan_window


def mask_name(name: str) -> str:
    """What a gate may show: 陳小明 -> 陳○明, so a bystander cannot read a full name off the screen
    (nor a name reversed by a direction control)."""
    name = without_bidi_controls(name)
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "○"
    return name[0] + "○" * (len(name) - 2) + name[-1]


async def create_event(
    conn: asyncpg.Connection, event_id: str, name: str, starts_on: date, ends_on: date,
    policy: Policy | None = None, tz: str = "Asia/Taipei",
) -> None:
    Keys("x").event(event_id)  # validates the id
    body = (policy or Policy(tz=tz)).__dict__
    await conn.execute(
        "INSERT INTO events (event_id, name, starts_on, ends_on, tz, policy) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (event_id) DO UPDATE SET name = EXCLUDED.name, starts_on = EXCLUDED.starts_on,"
        " ends_on = EXCLUDED.ends_on, tz = EXCLUDED.tz, policy = EXCLUDED.policy",
        event_id, name, starts_on, ends_on, tz, orjson.dumps(body).decode(),
    )


async def add_zone(conn: asyncpg.Connection, event_id: str, zone_id: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO zones (event_id, zone_id, name) VALUES ($1, $2, $3)"
        " ON CONFLICT (event_id, zone_id) DO UPDATE SET name = EXCLUDED.name",
        event_id, zone_id, name,
    )


async def add_gate(
    conn: asyncpg.Connection, event_id: str, gate_id: str, zone_id: str, name: str, mode: str = "auto"
) -> None:
    await conn.execute(
        "INSERT INTO gates (gate_id, event_id, zone_id, name, mode) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (gate_id) DO UPDATE SET zone_id = EXCLUDED.zone_id, name = EXCLUDED.name,"
        " mode = EXCLUDED.mode",
        gate_id, event_id, zone_id, name, mode,
    )


async def add_shift(
    conn: asyncpg.Connection, event_id: str, shift_id: str, zone_id: str, name: str,
    starts_at: datetime, ends_at: datetime, required: int = 0,
) -> None:
    await conn.execute(
        "INSERT INTO shifts (shift_id, event_id, zone_id, name, starts_at, ends_at, required)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (shift_id) DO UPDATE SET"
        " zone_id = EXCLUDED.zone_id, name = EXCLUDED.name, starts_at = EXCLUDED.starts_at,"
        " ends_at = EXCLUDED.ends_at, required = EXCLUDED.required",
        shift_id, event_id, zone_id, name, starts_at, ends_at, required,
    )


async def assign(conn: asyncpg.Connection, event_id: str, shift_id: str, volunteer_ids: list[str]) -> None:
    await conn.executemany(
        "INSERT INTO assignments (event_id, volunteer_id, shift_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(event_id, vid, shift_id) for vid in volunteer_ids],
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _day_start_ms(day: date, tz: ZoneInfo) -> int:
    return _ms(datetime.combine(day, time(0), tz))


_ROSTER_SQL = """
SELECT c.card_id, v.volunteer_id, v.name, coalesce(t.name, '') AS team, v.team_id, v.birth_year,
       v.insured_from, v.insured_to, v.training_basic, v.training_special,
       array_agg(s.shift_id ORDER BY s.starts_at) AS shift_ids,
       array_agg(s.zone_id ORDER BY s.starts_at) AS zones,
       array_agg(s.starts_at ORDER BY s.starts_at) AS starts,
       array_agg(s.ends_at ORDER BY s.starts_at) AS ends
FROM assignments a
JOIN volunteers v USING (volunteer_id)
JOIN shifts s ON s.shift_id = a.shift_id
JOIN cards c ON c.volunteer_id = v.volunteer_id AND c.status = 'active'
LEFT JOIN teams t ON t.team_id = v.team_id
WHERE a.event_id = $1
GROUP BY c.card_id, v.volunteer_id, t.name
"""


def service_offset(event: Any) -> int:
    """An events row's service-time offset for today's counters (checkin.live.day_counts): fixed at the event's first
    day, as the rest-limit offset is; load_event gives it to the scan script and the rebuild counts with it."""
    tz = ZoneInfo(event["tz"])
    hours = event_hours_policy(orjson.loads(event["policy"]) if event["policy"] else {}, event["tz"])
    return service_offset_ms(hours, datetime.combine(event["starts_on"], time(0), tz))


def rest_meta(policy: Policy, at_ms: int) -> dict[str, int]:
    """The rest limits and the zone's UTC offset (at `at_ms`) as the scan script reads them from meta."""
    return {"max_continuous_min": policy.max_continuous_min, "max_daily_min": policy.max_daily_min,
            "senior_max_continuous_min": policy.senior_max_continuous_min,
            "senior_max_daily_min": policy.senior_max_daily_min, "day_offset_min": day_offset_min(policy.tz, at_ms)}


def checkout_meta(policy: Policy) -> dict[str, int]:
    """When a check-out at an auto gate must be confirmed (rules.needs_confirming), as the scan script reads it;
    and how long the kiosk holds an answer (in the gate copy's policy, not read by the script)."""
    return {"min_session_min": policy.min_session_min, "confirm_s": policy.confirm_s,
            "answer_min_ms": policy.answer_min_ms}


def window_meta(policy: Policy, starts_on: date, ends_on: date, tz: str) -> dict[str, int]:
    """The times a scan may count at, as the scan script reads them from meta (rules.scan_window)."""
    first, until = scan_window(starts_on, ends_on, tz, policy)
    return {"scan_from_ms": first, "scan_until_ms": until}


def roster_record(row: Any, tz: ZoneInfo, senior_from_year: int, notes: EventNotes | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "v": row["volunteer_id"], "n": mask_name(row["name"]), "t": without_bidi_controls(row["team"]), "z": row["zones"][0],
        "s": [[_ms(a), _ms(b), sid] for a, b, sid in zip(row["starts"], row["ends"], row["shift_ids"], strict=True)],
        "o": 1 if row["birth_year"] is not None and row["birth_year"] <= senior_from_year else 0,
    }
    for flag, column in (("tb", "training_basic"), ("ts", "training_special")):
        if row.get(column):  # for the gate copy; the scan script does not read them
            record[flag] = 1
    if row["insured_from"] is not None and row["insured_to"] is not None:
        record["i0"] = _day_start_ms(row["insured_from"], tz)
        record["i1"] = _day_start_ms(row["insured_to"] + timedelta(days=1), tz)
    if notes is not None:
        record.update(notes.fields(row["volunteer_id"], row["shift_ids"], row.get("team_id")))
    return record


async def _changed_cards(redis: aioredis.Redis, ev: EventKeys, roster: dict[str, bytes], revoked: set[str]) -> list[str]:
    """Cards whose gate copy a reload changes, so kiosks get those alone (a restart reloads every event)."""
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    old_roster = {text(k): v for k, v in (await redis.hgetall(ev.roster)).items()}
    old_revoked = {text(c) for c in await redis.smembers(ev.revoked)}
    changed = {c for c in old_roster.keys() | roster.keys() if old_roster.get(c) != roster.get(c)}
    return sorted(changed | (old_revoked ^ revoked))


async def load_event(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str) -> int:
    """Copy what the gate needs of an event into Redis; return the roster size. Live state is kept."""
    event = await conn.fetchrow("SELECT * FROM events WHERE event_id = $1", event_id)
    if event is None:
        raise LookupError(f"no event {event_id!r}")
    policy = Policy.from_json(orjson.loads(event["policy"]))
    tz = ZoneInfo(event["tz"])
    senior_from_year = event["starts_on"].year - 65
    ev = keys.event(event_id)
    rows = await conn.fetch(_ROSTER_SQL, event_id)
    notes = await event_notes(conn, event_id)
    roster = {r["card_id"]: orjson.dumps(roster_record(r, tz, senior_from_year, notes)) for r in rows}
    revoked = [r["card_id"] for r in await conn.fetch(
        "SELECT c.card_id FROM cards c JOIN assignments a USING (volunteer_id)"
        " WHERE a.event_id = $1 AND c.status = 'revoked'", event_id)]
    gates = {r["gate_id"]: orjson.dumps({"z": r["zone_id"], "m": r["mode"]}) for r in await conn.fetch(
        "SELECT gate_id, zone_id, mode FROM gates WHERE event_id = $1", event_id)}
    devices = {r["device_id"]: orjson.dumps({"h": r["token_hash"], "s": r["status"], "g": r["gate_id"]})
               for r in await conn.fetch(
                   "SELECT device_id, token_hash, status, gate_id FROM devices WHERE event_id = $1", event_id)}
    changed = await _changed_cards(redis, ev, roster, set(revoked))
    durable = {r["device_id"]: r["durable_seq"] for r in await conn.fetch(
        "SELECT w.device_id, w.durable_seq FROM device_watermarks w JOIN devices d USING (device_id)"
        " WHERE d.event_id = $1", event_id)}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(ev.roster, ev.revoked, ev.gates, ev.devices)
        for key, mapping in ((ev.roster, roster), (ev.gates, gates), (ev.devices, devices)):
            if mapping:
                pipe.hset(key, mapping=mapping)
        if revoked:
            pipe.sadd(ev.revoked, *revoked)
        if durable:
            pipe.hset(ev.durable, mapping=durable)
        note_card_changes(pipe, ev, changed)
        pipe.hset(ev.meta, mapping={
            "status": event["status"], "name": event["name"], "tz": event["tz"],
            "debounce_s": policy.debounce_s, "insurance": policy.insurance,
            "shift_early_min": policy.shift_early_min, "shift_late_min": policy.shift_late_min,
            "clock_skew_s": policy.clock_skew_s, "svc_off_ms": service_offset(event),
            **cast("dict[FieldT, EncodableT]",  # redis-py's Mapping key is invariant
                   rest_meta(replace(policy, tz=event["tz"]), _day_start_ms(event["starts_on"], tz))
                   | checkout_meta(policy) | window_meta(policy, event["starts_on"], event["ends_on"], event["tz"])),
        })
        await pipe.execute()
    # Global keys live in other slots of a cluster, so they are written outside the event's transaction.
    await redis.sadd(keys.events, event_id)  # kept after closing, so consumers drain what is left
    if gates:  # the global directory the gateway consults, off the scan path, for a gate it has not seen
        await redis.hset(keys.gates, mapping=dict.fromkeys(gates, event_id))
    return len(roster)


async def refresh_notes(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str) -> int:
    """Rewrite the roster records whose attention notes changed (and note those cards for the kiosks' gate copies);
    return how many. Unlike load_event it leaves the devices hash alone, so a desk person's synthetic device
    registered a moment before survives a note edit."""
    event = await conn.fetchrow("SELECT tz, starts_on FROM events WHERE event_id = $1", event_id)
    if event is None:
        raise LookupError(f"no event {event_id!r}")
    tz, senior_from_year = ZoneInfo(event["tz"]), event["starts_on"].year - 65
    notes = await event_notes(conn, event_id)
    roster = {r["card_id"]: orjson.dumps(roster_record(r, tz, senior_from_year, notes))
              for r in await conn.fetch(_ROSTER_SQL, event_id)}
    ev = keys.event(event_id)
    old = await redis.hmget(ev.roster, list(roster)) if roster else []
    as_bytes = [b.encode() if isinstance(b, str) else b for b in old]
    changed = [card for card, before in zip(roster, as_bytes, strict=True) if before != roster[card]]
    if changed:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(ev.roster, mapping={card: roster[card] for card in changed})
            note_card_changes(pipe, ev, changed)
            await pipe.execute()
    return len(changed)


async def set_status(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, event_id: str, status: str
) -> int:
    """Open or close an event and (re)load it into Redis."""
    done = await conn.execute("UPDATE events SET status = $2 WHERE event_id = $1", event_id, status)
    if done.endswith(" 0"):
        raise LookupError(f"no event {event_id!r}")
    return await load_event(conn, redis, keys, event_id)
