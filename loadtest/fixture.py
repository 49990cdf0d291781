"""The benchmark's event written into Postgres and Redis, and the HTTP requests its kiosks send."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import asyncpg
import orjson
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import checkin.events.store as events
from checkin.access.accounts import add_user, enroll_device
from checkin.cards.store import issue_cards
from checkin.keys import Keys
from checkin.roster.store import store_roster
from checkin.roster.synth import generate_roster
from checkin.scan.rules import Policy
from loadtest.scenario import SHIFTS, Layout, Plan, Scan, Unit, assignment, iso

# The plan carries festival times from 2023, so the device clock must win over the server's.
# The plan replays 2023 festival times today, and the drain and reference runs scan a year later:
# neither the server clock nor the event's dates may refuse them.
BENCH_POLICY = Policy(insurance="warn", clock_skew_s=1_000_000_000, scan_margin_min=4 * 366 * 24 * 60)


@dataclass
class Fixture:
    event_id: str
    device_ids: list[str]
    tokens: list[str]  # by kiosk index
    cards: list[str]  # current card text by roster index
    old_cards: dict[int, str]  # the revoked card a volunteer still carries
    coordinator_token: str
    spare_gate: str  # an auto gate, for kiosks enrolled later (the drain measurement)


def _foreign_codes(rng: random.Random, cards: list[str], count: int) -> list[str]:
    """Damaged or foreign QR texts: a card with one signature character changed, or a payment code."""
    out = []
    for i in range(count):
        if i % 2:
            text = rng.choice(cards)
            pos = rng.randrange(len(text) - 20, len(text))
            out.append(text[:pos] + ("A" if text[pos] != "A" else "B") + text[pos + 1:])
        else:
            out.append(f"TWQRP://{rng.randrange(10**12):012d}/pay?amount={rng.randrange(1, 999)}")
    return out


async def write_fixture(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, plan: Plan,
                        seed: int = 2023) -> Fixture:
    layout = plan.layout
    roster = generate_roster(plan.volunteers, seed=seed)
    await store_roster(conn, roster)
    ids = [v.volunteer_id for v in roster.volunteers]
    await events.create_event(conn, layout.event_id, "2023 台灣燈會在臺北（壓力測試）", layout.days[0],
                              layout.days[-1], BENCH_POLICY)
    await _write_layout(conn, layout, ids)
    key = Ed25519PrivateKey.generate()
    first = {c.volunteer_id: c.text for c in await issue_cards(conn, key, ids)}
    # Lost cards: the first card revoked, a new one issued; the volunteer still carries the old one.
    lost = [ids[i] for i in plan.revoked]
    await conn.execute("UPDATE cards SET status = 'revoked', revoked_at = now(), revoke_reason = 'lost'"
                       " WHERE volunteer_id = any($1::text[])", lost)
    second = {c.volunteer_id: c.text for c in await issue_cards(conn, key, lost)}
    cards = [second.get(vid) or first[vid] for vid in ids]
    device_ids, tokens, coordinator, spare = await open_with_kiosks(conn, redis, keys, layout)
    return Fixture(layout.event_id, device_ids, tokens, cards, {i: first[ids[i]] for i in plan.revoked},
                   coordinator, spare)


async def open_with_kiosks(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys,
                           layout: Layout) -> tuple[list[str], list[str], str, str]:
    """Open the event, load it into Redis, enrol a kiosk per device slot and a coordinator:
    (device ids, their tokens, the coordinator's token, an auto gate for kiosks enrolled later)."""
    await conn.execute("UPDATE events SET status = 'open' WHERE event_id = $1", layout.event_id)
    await events.load_event(conn, redis, keys, layout.event_id)
    device_ids, tokens = [], []
    for index, gate_id in enumerate(layout.devices):
        device_id, token = await enroll_device(conn, redis, keys, layout.event_id, gate_id, f"bench kiosk {index}")
        device_ids.append(device_id)
        tokens.append(token)
    _, coordinator = await add_user(conn, "壓測協調員", "coordinator", layout.event_id)
    spare = next(g for g, _, mode in layout.gates if mode == "auto")
    return device_ids, tokens, coordinator, spare


async def _write_layout(conn: asyncpg.Connection, layout: Layout, ids: list[str]) -> None:
    for zone_id, name in layout.zones:
        await events.add_zone(conn, layout.event_id, zone_id, name)
    for gate_id, zone_id, mode in layout.gates:
        await events.add_gate(conn, layout.event_id, gate_id, zone_id, gate_id, mode)
    for shift_id, zone_id, name, starts, ends in layout.shifts():
        await events.add_shift(conn, layout.event_id, shift_id, zone_id, name, starts, ends)
    rows = []
    for index, vid in enumerate(ids):
        zone, shift = assignment(index, layout)
        code = SHIFTS[shift][0]
        rows.extend((layout.event_id, vid, layout.shift_id(zone, day, code)) for day in layout.days)
    await conn.copy_records_to_table("assignments", records=rows, columns=["event_id", "volunteer_id", "shift_id"])


class RequestBuilder:
    """Turns plan units into the exact bytes a kiosk sends (keep-alive HTTP/1.1, JSON body)."""

    def __init__(self, fixture: Fixture, layout: Layout, host: str, port: int, seed: int = 7) -> None:
        self.fixture = fixture
        self.layout = layout
        self.host = f"{host}:{port}"
        self.rng = random.Random(seed)
        self.foreign = _foreign_codes(self.rng, fixture.cards, 512)

    def _card(self, volunteer: int, kind: str) -> str:
        if volunteer < 0:
            return self.rng.choice(self.foreign)
        if kind == "revoked":
            return self.fixture.old_cards.get(volunteer, self.fixture.cards[volunteer])
        return self.fixture.cards[volunteer]

    def scan_body(self, unit_device: int, scan: Scan) -> dict[str, object]:
        return {
            "scan_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "card": self._card(scan.volunteer, scan.kind),
            "gate_id": self.layout.devices[unit_device],
            "scanned_at": iso(scan.at_ms),
            "seq": scan.seq,
        }

    def request(self, unit: Unit) -> bytes:
        if unit.batch:
            path = "/api/v1/scans/batch"
            body = orjson.dumps({"scans": [self.scan_body(unit.device, s) for s in unit.scans]})
        else:
            path = "/api/v1/scans"
            body = orjson.dumps(self.scan_body(unit.device, unit.scans[0]))
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Authorization: Bearer {self.fixture.tokens[unit.device]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode("ascii") + body
