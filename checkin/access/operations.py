"""Gate operations beyond the card scan, Postgres side: who may operate, roster search, the facts of a
scan to annul, annulments, team reports and kiosk PINs. Off the hot path (coordinators, team leads)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import asyncpg

from checkin.hours.derive import event_hours_policy
from checkin.hours.derive import service_day as office_day
from checkin.scan.rules import Policy, service_day
from checkin.tokens import new_id, new_secret, token_hash

ANNUL_SCRIPT = (resources.files("checkin.scan") / "lua" / "annul.lua").read_text(encoding="utf-8")
DEFAULT_UNDO_WINDOW_MIN = 15
SEARCH_LIMIT = 20
PHONE_DIGITS = 6  # a phone search needs the last six digits: see phone_key
PIN_RE = re.compile(r"^[0-9]{4,8}\Z")
_PIN_ITERATIONS = 200_000


@dataclass(frozen=True)
class Operator:
    """A person acting at the gate: an admin, an event's coordinator, or a team lead of one team."""

    user_id: str
    name: str
    role: str
    event_id: str | None
    team_id: str | None
    token_hash: str

    def may_operate(self, event_id: str) -> bool:
        return self.role == "admin" or self.event_id == event_id

    @property
    def device_id(self) -> str:
        """The synthetic device a person's scans are made from: their own seq, their own watermark."""
        return "M" + self.user_id


async def operator_for_token(conn: asyncpg.Connection | asyncpg.Pool, token: str | None) -> Operator | None:
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    row = await conn.fetchrow(
        "SELECT user_id, name, role, event_id, team_id FROM users WHERE token_hash = $1 AND revoked_at IS NULL",
        digest)
    return Operator(row["user_id"], row["name"], row["role"], row["event_id"], row["team_id"], digest) if row else None


async def add_team_lead(conn: asyncpg.Connection, name: str, event_id: str, team_id: str) -> tuple[str, str]:
    """A team lead (隊長) of one team at one event; returns (user_id, token)."""
    user_id = new_id("U")
    token = f"{user_id}.{new_secret()}"
    await conn.execute(
        "INSERT INTO users (user_id, name, role, event_id, team_id, token_hash) VALUES ($1, $2, 'team_lead', $3, $4, $5)",
        user_id, name, event_id, team_id, token_hash(token))
    return user_id, token


# --- roster search -----------------------------------------------------------------------------

_SEARCH = """
SELECT DISTINCT v.volunteer_id, v.name, coalesce(t.name, '') AS team, v.team_id, v.record_book_no,
       v.national_id_mask,  -- only the mask: the ciphertext stays here and the gateway has no key to open it
       right(regexp_replace(coalesce(v.phone, ''), '[^0-9]', '', 'g'), 3) AS phone_tail,
       (SELECT card_id FROM cards c WHERE c.volunteer_id = v.volunteer_id AND c.status = 'active') AS card_id
FROM assignments a JOIN volunteers v USING (volunteer_id) LEFT JOIN teams t ON t.team_id = v.team_id
WHERE a.event_id = $1 AND ($3::text IS NULL OR v.team_id = $3)
  AND (v.name ILIKE '%' || $2 || '%'
       OR v.record_book_no = $5
       OR v.volunteer_id = $5
       OR ($6::text IS NOT NULL
           AND right(regexp_replace(coalesce(v.phone, ''), '[^0-9]', '', 'g'), 6) = $6))
ORDER BY v.name, v.volunteer_id
LIMIT $4
"""


def _like_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def phone_key(query: str) -> str | None:
    """The last PHONE_DIGITS digits of a query that is a phone number (spaces and dashes allowed), else None.

    A phone matches on exactly its last six digits: never on a shorter suffix, and never on more digits
    than six, so no run of searches can grow a match one digit at a time into the whole number."""
    digits = re.sub(r"[\s-]", "", query)
    if len(digits) < PHONE_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits[-PHONE_DIGITS:]


async def search_roster(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, query: str,
                        team_id: str | None = None) -> list[dict[str, Any]]:
    """Volunteers of the event matching a name part, the last six digits of a phone number, a record book
    number or a volunteer id. Phone numbers are never returned, only their last 3 digits."""
    query = query.strip()
    rows = await conn.fetch(_SEARCH, event_id, _like_safe(query), team_id, SEARCH_LIMIT, query, phone_key(query))
    return [dict(r) for r in rows]


async def member_cards(conn: asyncpg.Connection | asyncpg.Pool, event_id: str,
                       volunteer_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """volunteer id -> (active card id, team id), for the given volunteers on the event's roster."""
    rows = await conn.fetch(
        "SELECT v.volunteer_id, v.team_id, c.card_id FROM volunteers v"
        " LEFT JOIN cards c ON c.volunteer_id = v.volunteer_id AND c.status = 'active'"
        " WHERE v.volunteer_id = ANY($2::text[])"
        " AND EXISTS (SELECT 1 FROM assignments a WHERE a.event_id = $1 AND a.volunteer_id = v.volunteer_id)",
        event_id, volunteer_ids)
    return {r["volunteer_id"]: (r["card_id"], r["team_id"]) for r in rows}


# --- annulments -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScanFacts:
    """What an annulment needs to know of the scan it annuls."""

    scan_id: str
    event_id: str
    device_id: str
    verdict: str
    volunteer_id: str
    team: str
    zone: str
    senior: bool
    at_ms: int
    gate_id: str


def facts_from_answer(scan_id: str, event_id: str, answer: list[Any]) -> ScanFacts | None:
    """From the answer the scan script stored (kept 48 h); None for an answer without the extra fields."""
    if len(answer) < 12:
        return None
    verdict, _, _, vid, _, team, _, _, at_s, device, zone, senior = answer[:12]
    return ScanFacts(scan_id, event_id, str(device), verdict, vid, team, zone, senior == 1, int(at_s), "")


_SCAN_ROW = """
SELECT s.event_id, s.device_id, s.verdict, coalesce(s.volunteer_id, '') AS volunteer_id, s.gate_id,
       coalesce(g.zone_id, '') AS zone, coalesce(t.name, '') AS team,
       coalesce(v.birth_year <= extract(year FROM e.starts_on)::int - 65, false) AS senior,
       (extract(epoch FROM s.scanned_at) * 1000)::bigint AS at_ms
FROM scans s JOIN events e USING (event_id) LEFT JOIN gates g ON g.gate_id = s.gate_id
LEFT JOIN volunteers v ON v.volunteer_id = s.volunteer_id LEFT JOIN teams t ON t.team_id = v.team_id
WHERE s.scan_id = $1
"""


async def facts_from_log(conn: asyncpg.Connection | asyncpg.Pool, scan_id: str) -> ScanFacts | None:
    row = await conn.fetchrow(_SCAN_ROW, uuid.UUID(scan_id))
    if row is None:
        return None
    return ScanFacts(scan_id, row["event_id"], row["device_id"], row["verdict"], row["volunteer_id"], row["team"],
                     row["zone"], row["senior"], row["at_ms"], row["gate_id"])


async def scan_gate(conn: asyncpg.Connection | asyncpg.Pool, scan_id: str) -> str | None:
    gate_id: str | None = await conn.fetchval("SELECT gate_id FROM scans WHERE scan_id = $1", uuid.UUID(scan_id))
    return gate_id


async def undo_window_min(conn: asyncpg.Connection | asyncpg.Pool, event_id: str) -> int:
    value = await conn.fetchval("SELECT policy->'undo_window_min' FROM events WHERE event_id = $1", event_id)
    try:
        minutes = int(value) if value is not None else DEFAULT_UNDO_WINDOW_MIN
    except (TypeError, ValueError):
        minutes = DEFAULT_UNDO_WINDOW_MIN
    return max(minutes, 0)


async def day_approved(conn: asyncpg.Connection | asyncpg.Pool, facts: ScanFacts) -> date | None:
    """The service day (event time zone) of the scan when its team's hours for that day are approved."""
    row = await conn.fetchrow(
        "SELECT e.tz, e.policy::text AS policy, v.team_id FROM events e LEFT JOIN volunteers v ON v.volunteer_id = $2"
        " WHERE e.event_id = $1", facts.event_id, facts.volunteer_id)
    if row is None or row["team_id"] is None:
        return None
    # The office approves by service day (04:00 to 04:00 by default), so a scan at 01:00 is the day before's.
    hours = event_hours_policy(json.loads(row["policy"]), row["tz"])
    day = office_day(datetime.fromtimestamp(facts.at_ms / 1000, UTC), hours)
    found = await conn.fetchval(
        "SELECT 1 FROM approvals WHERE event_id = $1 AND team_id = $2 AND service_day = $3",
        facts.event_id, row["team_id"], day)
    return day if found else None


async def record_annulment(conn: asyncpg.Connection | asyncpg.Pool, facts: ScanFacts, actor: str,
                           actor_kind: str, reason: str) -> bool:
    """The annulment into Postgres (once per scan); False when it was already there."""
    done: str = await conn.execute(
        "INSERT INTO annulments (scan_id, event_id, volunteer_id, verdict, scanned_at, actor, actor_kind, reason)"
        " VALUES ($1, $2, $3, $4, to_timestamp($5::bigint / 1000.0), $6, $7, $8) ON CONFLICT (scan_id) DO NOTHING",
        uuid.UUID(facts.scan_id), facts.event_id, facts.volunteer_id or None, facts.verdict, facts.at_ms, actor,
        actor_kind, reason)
    return done.endswith(" 1")


# --- per-team report for the unit ---------------------------------------------------------------

_TEAM_REPORT = """
SELECT v.volunteer_id, v.name,
       count(s.scan_id) FILTER (WHERE s.verdict = 'checked_in') AS check_ins,
       count(s.scan_id) FILTER (WHERE s.verdict = 'checked_out') AS check_outs,
       min(s.scanned_at) FILTER (WHERE s.verdict = 'checked_in') AS first_in,
       max(s.scanned_at) FILTER (WHERE s.verdict = 'checked_out') AS last_out,
       coalesce(array_agg(DISTINCT s.source) FILTER (WHERE s.scan_id IS NOT NULL), '{}') AS sources,
       coalesce(array_agg(DISTINCT s.operator) FILTER (WHERE s.operator IS NOT NULL), '{}') AS operators
FROM volunteers v
JOIN assignments a ON a.volunteer_id = v.volunteer_id AND a.event_id = $1
LEFT JOIN scans s ON s.event_id = $1 AND s.volunteer_id = v.volunteer_id
     AND s.verdict IN ('checked_in', 'checked_out')
     AND NOT EXISTS (SELECT 1 FROM annulments n WHERE n.scan_id = s.scan_id)
WHERE v.team_id = $2
GROUP BY v.volunteer_id, v.name
ORDER BY v.name, v.volunteer_id
"""


async def team_report(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, team_id: str) -> dict[str, Any]:
    """What a unit (運用單位) gets back for one team: each member's recorded check-ins and check-outs,
    who made them (card, coordinator or team lead), annulled scans left out."""
    # Teams outlive events: one with nobody on this event's roster is "no team" here, so a coordinator of
    # one event cannot read the names of another event's teams and units.
    team = await conn.fetchrow(
        "SELECT t.name, coalesce(u.name, '') AS unit FROM teams t LEFT JOIN units u USING (unit_id)"
        " WHERE t.team_id = $1 AND EXISTS (SELECT 1 FROM assignments a JOIN volunteers v USING (volunteer_id)"
        " WHERE a.event_id = $2 AND v.team_id = t.team_id)", team_id, event_id)
    if team is None:
        raise LookupError(f"no team {team_id!r} at event {event_id!r}")
    members = []
    for r in await conn.fetch(_TEAM_REPORT, event_id, team_id):
        members.append({
            "volunteer_id": r["volunteer_id"], "name": r["name"], "check_ins": r["check_ins"],
            "check_outs": r["check_outs"], "first_in": r["first_in"].isoformat() if r["first_in"] else None,
            "last_out": r["last_out"].isoformat() if r["last_out"] else None,
            "sources": sorted(r["sources"]), "operators": sorted(r["operators"]),
        })
    return {"event_id": event_id, "team_id": team_id, "team": team["name"], "unit": team["unit"],
            "members": members}


# --- rest limits on the live state ---------------------------------------------------------------

def over_rest_limit(presence: dict[str, Any], senior: bool, limits: dict[str, int], now_ms: int) -> dict[str, int] | None:
    """For a volunteer on site: the open session's minutes and the day's, when either is over its limit
    (the same limits and day arithmetic as checkin/scan/lua/scan.lua)."""
    if presence.get("on") != 1 or presence.get("cat") is None:
        return None
    rest = {k: v for k, v in limits.items() if k != "day_offset_min"}
    continuous, daily = Policy(**rest).rest_limits(senior)  # type: ignore[arg-type]
    session = max(0, (now_ms - int(presence["cat"])) // 60_000)
    day = service_day(now_ms, limits.get("day_offset_min", 0))
    served = int(presence.get("dm") or 0) if presence.get("dd") == day else 0
    if (continuous and session > continuous) or (daily and served + session > daily):
        return {"session_minutes": session, "day_minutes": served + session, "max_continuous_min": continuous,
                "max_daily_min": daily}
    return None


# --- kiosk PIN ----------------------------------------------------------------------------------

def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, _PIN_ITERATIONS)
    return f"pbkdf2-sha256${_PIN_ITERATIONS}${salt.hex()}${digest.hex()}"


def pin_matches(stored: str, pin: str) -> bool:
    try:
        _, iterations, salt, digest = stored.split("$")
        expected = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected.hex(), digest)


async def device_pin_hash(conn: asyncpg.Connection | asyncpg.Pool, device_id: str) -> str | None:
    pin_hash: str | None = await conn.fetchval("SELECT pin_hash FROM devices WHERE device_id = $1", device_id)
    return pin_hash
