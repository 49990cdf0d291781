"""Operator commands that work on the data: events, devices, users, cards, the demo, status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast

import asyncpg
import redis.asyncio as aioredis

import checkin.access.accounts as accounts
import checkin.cards.store as card_store
import checkin.events.store as events
from checkin.cards.format import load_or_create_private_key
from checkin.cli import card_keys
from checkin.cli.say import out, refusal
from checkin.config import Config
from checkin.db import connect, migrate
from checkin.errors import DomainError
from checkin.keys import Keys
from checkin.redis_conn import create_redis


@asynccontextmanager
async def connections(cfg: Config) -> AsyncIterator[tuple[asyncpg.Connection, aioredis.Redis]]:
    conn = await connect(cfg.postgres_url)
    redis = create_redis(cfg.redis_url or "")
    try:
        yield conn, redis
    finally:
        await redis.aclose()
        await conn.close()


async def migrate_cmd(cfg: Config) -> int:
    from checkin.runtime import resolve

    cfg = resolve(cfg)
    conn = await connect(cfg.postgres_url)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none needed'}")
    return 0


async def dispatch(cfg: Config, args: argparse.Namespace) -> int:
    keys = Keys(cfg.redis_prefix)
    async with connections(cfg) as (conn, redis):
        try:
            return int(await args.action(cfg, args, conn, redis, keys))
        except DomainError as exc:  # the domain's refusals, said once for every command
            return refusal(exc)
        except LookupError as exc:
            print(f"checkin: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"checkin: error: {exc}", file=sys.stderr)
            return 2


async def demo(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
               keys: Keys) -> int:
    from checkin.events.demo import seed_demo

    await migrate(conn)
    info = await seed_demo(conn, redis, keys, load_or_create_private_key(cfg.key_path), volunteers=args.size)
    out(info.__dict__)
    return 0


async def event_status(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                       redis: aioredis.Redis, keys: Keys) -> int:
    if args.event_cmd == "load":
        size = await events.load_event(conn, redis, keys, args.event)
    else:
        size = await events.set_status(conn, redis, keys, args.event, "open" if args.event_cmd == "open" else "closed")
    print(f"event {args.event}: {args.event_cmd} ({size} cards on the gate roster)")
    return 0


async def event_list(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                     keys: Keys) -> int:
    rows = await conn.fetch("SELECT event_id, name, starts_on, ends_on, status FROM events ORDER BY starts_on")
    out([{**dict(r), "starts_on": str(r["starts_on"]), "ends_on": str(r["ends_on"])} for r in rows])
    return 0


async def device_enroll(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                        redis: aioredis.Redis, keys: Keys) -> int:
    device_id, token = await accounts.enroll_device(conn, redis, keys, args.event, args.gate, args.label)
    out({"device_id": device_id, "token": token})
    return 0


async def device_revoke(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                        redis: aioredis.Redis, keys: Keys) -> int:
    await accounts.revoke_device(conn, redis, keys, args.device)
    print(f"device {args.device} revoked")
    return 0


async def device_move(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                      redis: aioredis.Redis, keys: Keys) -> int:
    left = await accounts.move_device(conn, redis, keys, args.device, args.gate, args.actor, args.reason)
    print(f"device {args.device} moved from gate {left} to {args.gate} (audited). Its scans at {left} are refused"
          " from now on, journal entries too: move a kiosk whose journal is empty, then re-enroll it at the new gate")
    return 0


async def user_add(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                   keys: Keys) -> int:
    import checkin.access.staff_sessions as sessions
    from checkin.cli.device import gateway_url

    login = (args.login or args.name or "").strip() or None
    async with conn.transaction():
        user_id, token = await accounts.add_user(conn, args.name, args.role, args.event, args.team)
        if login:
            await sessions.set_login(conn, user_id, login)
        code = await sessions.make_password_link(conn, user_id, timedelta(hours=cfg.password_link_ttl_h))
    link = sessions.password_url(gateway_url(cfg, args.base_url), code)
    out({"user_id": user_id, "role": args.role, "event_id": args.event, "team_id": args.team, "login": login,
         "token": token, "password_link": link})
    print(f"send this one-time link to choose a password (works once, for {cfg.password_link_ttl_h} h):"
          f" {link}", file=sys.stderr)
    return 0


async def user_reset(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                     keys: Keys) -> int:
    import checkin.access.staff_sessions as sessions
    from checkin.cli.device import gateway_url

    code = await sessions.make_password_link(conn, args.user, timedelta(hours=cfg.password_link_ttl_h))
    print(f"user {args.user}: sign-in unlocked; a one-time link to choose a new password"
          f" (works once, for {cfg.password_link_ttl_h} h):")
    print(sessions.password_url(gateway_url(cfg, args.base_url), code))
    return 0


async def user_revoke(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                      keys: Keys) -> int:
    await accounts.revoke_user(conn, args.user)
    print(f"user {args.user} revoked")
    return 0


async def cards_issue(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                      redis: aioredis.Redis, keys: Keys) -> int:
    from checkin.cards.sheets import issue_missing

    issued, had = await issue_missing(conn, load_or_create_private_key(cfg.key_path), args.event)
    if args.event:
        await events.load_event(conn, redis, keys, args.event)
    print(f"issued {len(issued)} new card(s); {had} volunteer(s) already had one")
    return 0


async def cards_revoke(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                       redis: aioredis.Redis, keys: Keys) -> int:
    vid = await card_store.revoke_card(conn, redis, keys, args.card, args.reason)
    print(f"card {args.card} of {vid} revoked")
    return 0


async def cards_reissue(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                        redis: aioredis.Redis, keys: Keys) -> int:
    card = await card_store.reissue_card(conn, redis, keys, load_or_create_private_key(cfg.key_path),
                                         args.volunteer, args.reason)
    for event_id in [r["event_id"] for r in await conn.fetch(
            "SELECT DISTINCT a.event_id FROM assignments a JOIN events e USING (event_id)"
            " WHERE a.volunteer_id = $1 AND e.status <> 'draft'", args.volunteer)]:
        await events.load_event(conn, redis, keys, event_id)
    out({"card_id": card.card_id, "volunteer_id": card.volunteer_id, "card": card.text})
    return 0


async def cards_list(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                     keys: Keys) -> int:
    rows = await conn.fetch(
        "SELECT card_id, volunteer_id, status, issued_at, revoked_at, revoke_reason, replaced_by FROM cards"
        " WHERE ($1::text IS NULL OR volunteer_id = $1) ORDER BY issued_at, card_id LIMIT $2",
        args.volunteer, args.limit)
    out([{k: (str(v) if v is not None and k.endswith("_at") else v) for k, v in dict(r).items()} for r in rows])
    return 0


async def cards_link(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                     redis: aioredis.Redis, keys: Keys) -> int:
    import checkin.cards.links as card_links
    from checkin.cli.device import gateway_url

    if args.revoke:
        print(f"{await card_links.revoke_links(conn, args.volunteer)} link(s) of {args.volunteer} revoked")
        return 0
    token, card_id = await card_links.create_link(conn, args.volunteer)
    base = gateway_url(cfg, args.base_url)
    print(f"card {card_id} of {args.volunteer}; send this link (it is shown only once):")
    print(card_links.card_url(base, token))
    return 0


async def cards_print(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                      redis: aioredis.Redis, keys: Keys) -> int:
    from checkin.cards.printing import cards_pdf
    from checkin.cards.sheets import print_cards

    name = await conn.fetchval("SELECT name FROM events WHERE event_id = $1", args.event)
    if name is None:
        raise LookupError(f"no event {args.event!r}")
    cards = await print_cards(conn, args.event)
    if not cards:
        raise LookupError(f"event {args.event!r} has no volunteers with active cards (checkin cards issue --event)")
    pages = cards_pdf(cards, args.out, title=f"{name} 志工服務證")
    print(f"wrote {len(cards)} cards on {pages} A4 page(s) to {args.out}")
    return 0


async def status(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                 keys: Keys) -> int:
    import time

    from checkin.runtime import embedded_states
    from checkin.streams import RECORDER_GROUP, group_backlogs, id_ms

    # First, and apart from the JSON on stdout: it is what to look at when the Redis calls below fail.
    for name, server in embedded_states(cfg).items():
        print(f"embedded {name}: {server.get('state')}, {server.get('restarts')} restart(s)"
              + (f", last error: {server['last_error']}" if server.get("last_error") else ""), file=sys.stderr)
    report = []
    for event_id in sorted(e.decode() for e in cast("set[bytes]", await redis.smembers(keys.events))):
        ev = keys.event(event_id)
        length = await redis.xlen(ev.stream)
        backlog = (await group_backlogs(redis, ev.stream)).get(RECORDER_GROUP)
        pending, lag = (backlog.pending, backlog.unread) if backlog else (0, 0)
        now_ms = time.time() * 1000
        oldest = backlog.oldest_pending_id if backlog else None
        outstanding = backlog.oldest_outstanding_ms() if backlog else None
        stored = await conn.fetchval("SELECT count(*) FROM scans WHERE event_id = $1", event_id)
        report.append({"event_id": event_id, "stream_length": length, "pending": pending, "not_yet_read": lag,
                       "oldest_pending_age_s": round((now_ms - id_ms(oldest)) / 1000, 1) if oldest else 0,
                       "lag_s": round(max(0.0, now_ms - outstanding) / 1000, 1) if outstanding else 0,
                       "scans_in_postgres": stored, "dead_letters": await redis.xlen(ev.dead_letters),
                       "on_site": int(await redis.hget(ev.counts, "on_site") or 0)})
    out(report)
    return 0


Command = Callable[[Config, argparse.Namespace], int]


def add_parsers(sub: Any, run: Command) -> None:
    def leaf(parent: Any, name: str, action: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text)
        p.set_defaults(func=run, action=action)
        return p

    p = leaf(sub, "demo", demo, "create the demo event (a synthetic 2023 Lantern Festival) and print tokens")
    p.add_argument("--size", type=int, default=300, help="volunteers on the demo roster")

    ev = sub.add_parser("event", help="open, close, reload or list events").add_subparsers(dest="event_cmd",
                                                                                          required=True)
    for name, text in (("open", "open an event and load it into Redis"), ("close", "close an event"),
                       ("load", "reload an event's roster, gates and devices into Redis")):
        leaf(ev, name, event_status, text).add_argument("event")
    leaf(ev, "list", event_list, "list events")

    dev = sub.add_parser("device", help="gate devices").add_subparsers(dest="device_cmd", required=True)
    p = leaf(dev, "enroll", device_enroll, "enroll a device at a gate; prints its token once")
    p.add_argument("--event", required=True)
    p.add_argument("--gate", required=True)
    p.add_argument("--label", default="")
    leaf(dev, "revoke", device_revoke, "revoke a device token").add_argument("device")
    p = leaf(dev, "move", device_move,
             "re-assign a device to another gate of its event (admin, audited; do it with its journal empty)")
    p.add_argument("device")
    p.add_argument("--gate", required=True, help="the gate it scans at from now on")
    p.add_argument("--actor", required=True, help="user id of the admin moving it")
    p.add_argument("--reason", default="", help="why, for the audit log")

    usr = sub.add_parser("user", help="admins, coordinators and team leads").add_subparsers(dest="user_cmd",
                                                                                           required=True)
    p = leaf(usr, "add", user_add,
             "add an admin, a coordinator or a team lead; prints the token and a one-time set-password link once")
    p.add_argument("--role", required=True, choices=["admin", "coordinator", "team_lead"])
    p.add_argument("--event", help="the event a coordinator or team lead works at")
    p.add_argument("--team", help="a team lead's team (team_id)")
    p.add_argument("--name", default="")
    p.add_argument("--login", help="the name they sign in with (default: --name; always also their user id)")
    p.add_argument("--base-url", help="how staff reach the gateway, for the set-password link")
    p = leaf(usr, "reset", user_reset, "a new one-time set-password link for a user, and their sign-in unlocked")
    p.add_argument("user")
    p.add_argument("--base-url", help="how staff reach the gateway, for the set-password link")
    leaf(usr, "revoke", user_revoke, "revoke a user's token (a lost link or phone); add the user again for a new one"
         ).add_argument("user")

    cards = sub.add_parser("cards", help="service cards").add_subparsers(dest="cards_cmd", required=True)
    leaf(cards, "issue", cards_issue, "issue a card to every volunteer (of an event) without one").add_argument(
        "--event")
    p = leaf(cards, "revoke", cards_revoke, "revoke a card (lost or stolen)")
    p.add_argument("card")
    p.add_argument("--reason", default="lost")
    p = leaf(cards, "reissue", cards_reissue, "a new card for a volunteer; the old one stops at once")
    p.add_argument("volunteer")
    p.add_argument("--reason", default="reissued")
    p = leaf(cards, "list", cards_list, "list cards")
    p.add_argument("--volunteer")
    p.add_argument("--limit", type=int, default=100)

    p = leaf(cards, "link", cards_link, "a personal link that shows the card's QR on the volunteer's phone")
    p.add_argument("volunteer")
    p.add_argument("--base-url", help="how phones reach the gateway, e.g. https://checkin.example.tw")
    p.add_argument("--revoke", action="store_true", help="stop the volunteer's links instead (the card still works)")

    card_keys.add_parsers(cards, leaf)

    p = leaf(cards, "print", cards_print, "an A4 PDF of an event's cards, with names and cut marks")
    p.add_argument("--event", required=True)
    p.add_argument("--out", required=True)

    leaf(sub, "status", status, "streams, pending entries, dead letters and stored scans per event")
