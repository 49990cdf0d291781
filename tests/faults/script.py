"""The scripted festival day: an event with six posts, a shift change, and the ground truth of hours.

Each post (zone) has one gate in auto mode and one kiosk; a volunteer checks in and out at the gate
of their own post. Morning volunteers leave as afternoon volunteers arrive (the shift change); a
night crew arrives late and is still on site when the script ends. Some volunteers scan twice in a
row (the gate's debounce answers 'duplicate'). Times are simulated: the day runs faster than real.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import checkin.events.store as events
from checkin.access.accounts import enroll_device
from checkin.cards.store import issue_cards
from checkin.keys import Keys
from checkin.scan.rules import Policy
from loadtest.event_factory import altered_card

TZ = ZoneInfo("Asia/Taipei")
POSTS = 6
DAY_START, DAY_END = time(7, 30), time(20, 30)  # the simulated stretch the scans fall in
SHIFTS = {"morning": (time(8), time(14)), "afternoon": (time(14), time(20)), "night": (time(19), time(23))}
ROUNDING_STEP = 30  # the default hours policy: each service day's total rounded down to 30 minutes


@dataclass(frozen=True)
class Visit:
    volunteer_id: str
    card: str
    post: int
    shift: str
    arrive: datetime
    leave: datetime | None  # None: still on site when the script ends
    doubles: tuple[datetime, ...] = ()  # extra scans within the debounce window

    def expected_minutes(self, night_end: datetime) -> int:
        """What the record book should say: whole minutes from arrival to departure, rounded down."""
        end = self.leave or night_end  # no check-out: the session closes at the end of the shift
        minutes = int((end.replace(second=0) - self.arrive.replace(second=0)).total_seconds() // 60)
        return minutes // ROUNDING_STEP * ROUNDING_STEP


@dataclass
class Plan:
    event_id: str
    day: date
    gates: list[str]
    tokens: list[str]  # one kiosk per post
    hostile_token: str  # a device at post 0 that scans bad cards
    visits: list[Visit]
    revoked_card: str  # revoked during the day; must be refused, also after Redis loses everything
    tampered_card: str
    stranger_card: str  # a real card of a volunteer not on this event
    extra: dict[str, object] = field(default_factory=dict)

    def at(self, clock: time) -> datetime:
        return datetime.combine(self.day, clock, TZ)

    @property
    def night_end(self) -> datetime:
        return self.at(SHIFTS["night"][1])

    def kiosk_scans(self) -> list[list[tuple[datetime, str]]]:
        """Each kiosk's scans in time order: (scanned_at, card)."""
        per_post: list[list[tuple[datetime, str]]] = [[] for _ in range(POSTS)]
        for v in self.visits:
            per_post[v.post].append((v.arrive, v.card))
            if v.leave is not None:
                per_post[v.post].append((v.leave, v.card))
            per_post[v.post].extend((d, v.card) for d in v.doubles)
        return [sorted(scans) for scans in per_post]


def _visits(rng: random.Random, day: date, cards: list[tuple[str, str]], sizes: dict[str, int]) -> list[Visit]:
    visits = []
    it = iter(cards)
    for shift, count in sizes.items():
        start, end = (datetime.combine(day, t, TZ) for t in SHIFTS[shift])
        for i in range(count):
            vid, card = next(it)
            arrive = start - timedelta(minutes=20) + timedelta(seconds=rng.randrange(0, 40 * 60))
            leave = None if shift == "night" else end + timedelta(seconds=rng.randrange(0, 30 * 60))
            doubles = ()
            if rng.random() < 0.05:  # scanned twice: the second one a few seconds later
                doubles = (arrive + timedelta(seconds=rng.randrange(3, 40)),)
            visits.append(Visit(vid, card, i % POSTS, shift, arrive, leave, doubles))
    return visits


async def build_plan(conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, *,
                     sizes: dict[str, int], seed: int = 10) -> Plan:
    rng = random.Random(seed)
    tag = secrets.token_hex(3)
    event_id = f"fest-{tag}"
    day = datetime.now(TZ).date()
    # Simulated scan times are hours from the server clock; a huge clock_skew_s keeps them as sent.
    policy = Policy(clock_skew_s=7 * 24 * 3600, insurance="warn")
    await events.create_event(conn, event_id, f"燈會志工日 {tag}", day, day + timedelta(days=1), policy)
    await conn.execute("INSERT INTO units (unit_id, name) VALUES ($1, $2)", f"U-{tag}", "燈會運用單位")
    await conn.execute("INSERT INTO teams (team_id, name, unit_id) VALUES ($1, $2, $3)", f"T-{tag}", "燈會志工隊",
                       f"U-{tag}")
    total = sum(sizes.values()) + 2  # + the volunteer whose card is revoked, + one not on this event
    ids = [f"V-{tag}-{i:05d}" for i in range(total)]
    await conn.executemany(
        "INSERT INTO volunteers (volunteer_id, name, team_id, birth_year, insured_from, insured_to)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(vid, f"志工{i:04d}", f"T-{tag}", 1950 if i % 4 == 0 else 1988, date(2000, 1, 1), date(2100, 1, 1))
         for i, vid in enumerate(ids)])
    gates = []
    for post in range(POSTS):
        zone = f"post{post}"
        await events.add_zone(conn, event_id, zone, f"服務據點 {post}")
        gate = f"{event_id}-g{post}"
        await events.add_gate(conn, event_id, gate, zone, f"{zone} desk", "auto")
        gates.append(gate)
    issued = await issue_cards(conn, Ed25519PrivateKey.generate(), ids)
    cards = [(c.volunteer_id, c.text) for c in issued]
    visits = _visits(rng, day, cards, sizes)
    revoked_vid, revoked_card = cards[-2]
    for shift, (start, end) in SHIFTS.items():
        for post in range(POSTS):
            shift_id = f"{event_id}-{shift}-{post}"
            members = [v.volunteer_id for v in visits if v.shift == shift and v.post == post]
            if shift == "morning" and post == 0:
                members.append(revoked_vid)
            await events.add_shift(conn, event_id, shift_id, f"post{post}", f"{shift} {post}",
                                   datetime.combine(day, start, TZ), datetime.combine(day, end, TZ), len(members))
            await events.assign(conn, event_id, shift_id, members)
    await conn.execute("UPDATE events SET status = 'open' WHERE event_id = $1", event_id)
    await events.load_event(conn, redis, keys, event_id)
    tokens = [(await enroll_device(conn, redis, keys, event_id, g, f"kiosk {i}"))[1] for i, g in enumerate(gates)]
    _, hostile = await enroll_device(conn, redis, keys, event_id, gates[0], "kiosk with bad cards")
    good = cards[0][1]
    tampered = altered_card(good)
    return Plan(event_id, day, gates, tokens, hostile, visits, revoked_card, tampered, cards[-1][1])
