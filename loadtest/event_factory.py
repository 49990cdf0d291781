"""An event with gates, shifts, a roster, cards and a kiosk, for the integration tests and the live benchmark."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import checkin.events.store as events
from checkin.access.accounts import add_user, enroll_device
from checkin.cards.store import issue_cards
from checkin.keys import Keys
from checkin.scan.rules import Policy

SIGNING_KEY = Ed25519PrivateKey.generate()


def altered_card(text: str) -> str:
    """The card text with one signature character changed to another: always refused as invalid_card.
    (Rewriting the last characters with fixed ones leaves the card as it was when it already ends in them.)"""
    at = len(text) - 10
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@dataclass
class Scenario:
    event_id: str
    gates: dict[str, str]  # gate id -> mode
    device_token: str
    coordinator_token: str
    cards: list[tuple[str, str]]  # (volunteer id, card text)
    seq: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    gate_tokens: dict[str, str] = field(default_factory=dict)  # gate id -> a device enrolled there

    def auth(self, gate: str) -> dict[str, str]:
        """The header of the device enrolled at `gate` (a device token scans only at its own gate)."""
        return {"Authorization": f"Bearer {self.gate_tokens.get(gate, self.device_token)}"}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def scan(self, card: str, gate: str, at: datetime | None = None, **extra: object) -> dict[str, object]:
        return {"scan_id": str(uuid.uuid4()), "card": card, "gate_id": gate,
                "scanned_at": (at or datetime.now(UTC)).isoformat(), "seq": self.next_seq(), **extra}


async def make_event(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, *, volunteers: int = 20,
    policy: Policy | None = None, status: str = "open", insured: bool = True,
) -> Scenario:
    tag = secrets.token_hex(6)  # a few hundred events a run: 3 bytes collided about once in 500 runs
    event_id = f"ev-{tag}"
    today = datetime.now(UTC).date()
    # From the day before: tests replay scans up to 30 h old, which in Taipei's morning (UTC's first hours) fell
    # before an event starting on UTC's today and were refused as outside its dates.
    await events.create_event(conn, event_id, f"測試活動 {tag}", today - timedelta(days=1), today + timedelta(days=2),
                              policy or Policy())
    await conn.execute("INSERT INTO units (unit_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       f"U-{tag}", "測試運用單位")
    await conn.execute("INSERT INTO teams (team_id, name, unit_id) VALUES ($1, $2, $3)",
                       f"T-{tag}", "測試志工隊", f"U-{tag}")
    ids = [f"V-{tag}-{i:04d}" for i in range(volunteers)]
    insured_from = date(2000, 1, 1) if insured else None
    insured_to = date(2100, 1, 1) if insured else None
    await conn.executemany(
        "INSERT INTO volunteers (volunteer_id, name, team_id, birth_year, insured_from, insured_to)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(vid, f"志工{i:03d}號", f"T-{tag}", 1950 if i % 5 == 0 else 1990, insured_from, insured_to)
         for i, vid in enumerate(ids)])
    await events.add_zone(conn, event_id, "main", "主燈區")
    gates = {f"{event_id}-in": "entry", f"{event_id}-out": "exit", f"{event_id}-desk": "auto"}
    for gate_id, mode in gates.items():
        await events.add_gate(conn, event_id, gate_id, "main", gate_id, mode)
    now = datetime.now(UTC)
    shift_id = f"{event_id}-s1"
    await events.add_shift(conn, event_id, shift_id, "main", "全日班", now - timedelta(hours=2),
                           now + timedelta(hours=6), required=volunteers)
    await events.assign(conn, event_id, shift_id, ids)
    issued = await issue_cards(conn, SIGNING_KEY, ids)
    await conn.execute("UPDATE events SET status = $2 WHERE event_id = $1", event_id, status)
    await events.load_event(conn, redis, keys, event_id)
    gate_tokens = {gate_id: (await enroll_device(conn, redis, keys, event_id, gate_id, f"test kiosk {gate_id}"))[1]
                   for gate_id in gates}
    _, coordinator = await add_user(conn, "協調員", "coordinator", event_id)
    return Scenario(event_id, gates, gate_tokens[f"{event_id}-desk"], coordinator,
                    [(c.volunteer_id, c.text) for c in issued], gate_tokens=gate_tokens)
