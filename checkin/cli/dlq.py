"""`checkin dlq list / retry`: see the entries the recorder parked, and put them back on their stream."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, cast

import asyncpg
import orjson
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from checkin.config import Config
from checkin.keys import Keys

Entries = list[tuple[bytes, dict[bytes, bytes]]]  # XRANGE's reply with decode_responses off


async def _events(redis: aioredis.Redis, keys: Keys, event: str | None) -> list[str]:
    if event:
        return [event]
    return sorted(e.decode() for e in cast("set[bytes]", await redis.smembers(keys.events)))


def _show(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, str]:
    return {"dlq_id": entry_id.decode(), **{k.decode(): v.decode(errors="replace") for k, v in fields.items()}}


async def dlq_list(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                   keys: Keys) -> int:
    out = []
    for event_id in await _events(redis, keys, args.event):
        dead_letters = cast(Entries, await redis.xrange(keys.event(event_id).dead_letters, count=args.limit))
        for entry_id, fields in dead_letters:
            out.append({"event_id": event_id, **_show(entry_id, fields)})
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


async def dlq_retry(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                    keys: Keys) -> int:
    """Each chosen entry goes back on its event stream (as a new entry, original fields only) and
    leaves the dead-letter stream in the same transaction, so it is never in both or neither."""
    if not args.ids and not args.all:
        raise ValueError("name the dead letters to retry (their dlq_id), or pass --all")
    wanted = set(args.ids)
    moved = 0
    for event_id in await _events(redis, keys, args.event):
        ev = keys.event(event_id)
        for entry_id, fields in cast(Entries, await redis.xrange(ev.dead_letters)):
            if not args.all and entry_id.decode() not in wanted:
                continue
            original: dict[FieldT, EncodableT] = {k: v for k, v in fields.items() if not k.startswith(b"_")}
            async with redis.pipeline(transaction=True) as pipe:
                pipe.xadd(ev.stream, original)
                pipe.xdel(ev.dead_letters, entry_id)
                new_id, _ = await pipe.execute()
            wanted.discard(entry_id.decode())
            moved += 1
            print(f"{event_id}: dead letter {entry_id.decode()} back on the stream as {new_id.decode()}")
    if wanted:
        raise LookupError(f"no such dead letter: {', '.join(sorted(wanted))}")
    print(f"{moved} dead letter(s) retried")
    return 0


def add_parsers(sub: Any, run: Callable[[Config, argparse.Namespace], int]) -> None:
    dlq = sub.add_parser("dlq", help="entries the recorder could not store").add_subparsers(dest="dlq_cmd",
                                                                                              required=True)
    p = dlq.add_parser("list", help="show dead letters with the error that parked them")
    p.set_defaults(func=run, action=dlq_list)
    p.add_argument("--event", help="one event (default: every loaded event)")
    p.add_argument("--limit", type=int, default=100, help="at most this many per event")
    p = dlq.add_parser("retry", help="put dead letters back on their event stream for the recorder")
    p.set_defaults(func=run, action=dlq_retry)
    p.add_argument("ids", nargs="*", help="dlq_id values from `checkin dlq list`")
    p.add_argument("--event", help="one event (default: every loaded event)")
    p.add_argument("--all", action="store_true", help="retry every dead letter")
