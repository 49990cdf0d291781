"""The demo event: the 2023 Taiwan Lantern Festival in Taipei, replayed on today's calendar."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import checkin.events.store as events
from checkin.access.accounts import add_user, enroll_device
from checkin.cards.store import issue_cards
from checkin.keys import Keys
from checkin.roster.store import store_roster
from checkin.roster.synth import FESTIVAL_OPENS, generate_roster
from checkin.scan.rules import Policy

EVENT_ID = "lantern2023"
EVENT_NAME = "2023 台灣燈會在臺北（示範）"
TZ = ZoneInfo("Asia/Taipei")
# (zone id, name, gates as (gate id, name, mode))
ZONES = [
    ("huabo", "花博燈區", [("huabo-n", "花博北門", "entry"), ("huabo-s", "花博南門", "exit"),
                          ("huabo-desk", "花博服務台", "auto")]),
    ("ximen", "西門燈區", [("ximen-1", "西門紅樓", "auto"), ("ximen-2", "中山堂", "auto")]),
    ("station", "臺北車站", [("station-1", "北門廣場", "auto")]),
    ("yuanshan", "圓山轉運", [("yuanshan-1", "圓山轉運站", "auto")]),
]
SHIFTS = [("am", "早班", time(9), time(14)), ("pm", "午班", time(13), time(18)), ("ev", "晚班", time(17), time(23))]


@dataclass(frozen=True)
class DemoInfo:
    event_id: str
    gate_id: str
    device_token: str
    coordinator_token: str
    admin_token: str
    cards: list[tuple[str, str]]  # (volunteer name, card text)


async def seed_demo(
    conn: asyncpg.Connection, redis: aioredis.Redis, keys: Keys, private_key: Ed25519PrivateKey,
    volunteers: int = 300, today: date | None = None,
) -> DemoInfo:
    """Create (or refresh) the demo event with a synthetic roster; idempotent apart from new tokens."""
    today = today or datetime.now(TZ).date()
    roster = generate_roster(volunteers, seed=2023)
    shift_by = today - FESTIVAL_OPENS  # insurance dates move with the festival onto today's calendar
    roster = dataclasses.replace(roster, volunteers=[
        dataclasses.replace(v, insured_from=v.insured_from + shift_by, insured_to=v.insured_to + shift_by)
        for v in roster.volunteers
    ])
    async with conn.transaction():
        await store_roster(conn, roster)
        await events.create_event(conn, EVENT_ID, EVENT_NAME, today, today + timedelta(days=15),
                                  Policy(insurance="warn"))
        shift_ids = []
        for zone_id, zone_name, gates in ZONES:
            await events.add_zone(conn, EVENT_ID, zone_id, zone_name)
            for gate_id, gate_name, mode in gates:
                await events.add_gate(conn, EVENT_ID, gate_id, zone_id, gate_name, mode)
            for code, name, start, end in SHIFTS:
                shift_id = f"{zone_id}-{today:%m%d}-{code}"
                await events.add_shift(conn, EVENT_ID, shift_id, zone_id, f"{zone_name}{name}",
                                       datetime.combine(today, start, TZ), datetime.combine(today, end, TZ),
                                       required=volunteers // (len(ZONES) * len(SHIFTS)))
                shift_ids.append(shift_id)
        ids = [v.volunteer_id for v in roster.volunteers]
        for i, shift_id in enumerate(shift_ids):
            await events.assign(conn, EVENT_ID, shift_id, ids[i::len(shift_ids)])
        await issue_cards(conn, private_key, ids)
        await conn.execute("UPDATE events SET status = 'open' WHERE event_id = $1", EVENT_ID)
    await events.load_event(conn, redis, keys, EVENT_ID)
    _, device_token = await enroll_device(conn, redis, keys, EVENT_ID, "huabo-desk", "示範平板")
    _, coordinator = await add_user(conn, "示範協調員", "coordinator", EVENT_ID)
    _, admin = await add_user(conn, "示範管理員", "admin", None)
    rows = await conn.fetch(
        "SELECT v.name, c.card_text FROM cards c JOIN volunteers v USING (volunteer_id)"
        " WHERE c.status = 'active' AND v.volunteer_id = any($1::text[]) ORDER BY v.volunteer_id LIMIT 5", ids)
    return DemoInfo(EVENT_ID, "huabo-desk", device_token, coordinator, admin,
                    [(r["name"], r["card_text"]) for r in rows])
