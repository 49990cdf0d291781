"""`checkin cards keys` and `checkin cards retire-key`: the card signing keys, and retiring one (a leaked key,
or one whose cards have all been reissued) without writing SQL."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.cards import key_ring
from checkin.cards.format import key_id_for
from checkin.cli.say import out
from checkin.config import Config
from checkin.errors import NotFound
from checkin.keys import Keys


def signing_key_id(cfg: Config) -> str | None:
    """The id of the key new cards are signed with (the key file), or None before the first issue made one."""
    if not cfg.key_path.exists():
        return None
    key = serialization.load_pem_private_key(cfg.key_path.read_bytes(), password=None)
    return key_id_for(key.public_key()) if isinstance(key, Ed25519PrivateKey) else None


async def cards_keys(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                     keys: Keys) -> int:
    now = signing_key_id(cfg)
    out([{"key_id": k.key_id, "created_at": str(k.created_at), "retired_at": str(k.retired_at) if k.retired_at else None,
          "active_cards": k.active_cards, "cards": k.cards, "signs_new_cards": k.key_id == now}
         for k in await key_ring.signing_keys(conn)])
    return 0


async def cards_retire_key(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection, redis: aioredis.Redis,
                           keys: Keys) -> int:
    found = await key_ring.signing_keys(conn, args.key_id)
    if not found:
        raise NotFound(f"no signing key {args.key_id!r} (`checkin cards keys` lists them)", field="key_id")
    if found[0].retired_at is not None:
        print(f"{args.key_id} was retired at {found[0].retired_at:%Y-%m-%d %H:%M:%S %Z}; nothing changed")
        return 0
    if found[0].active_cards and not args.yes:
        print(f"checkin: refused: {args.key_id} signed {found[0].active_cards} card(s) that work today; retiring it "
              "stops every one of them at every gate. Run again with --yes to retire it.", file=sys.stderr)
        return 1
    key = await key_ring.retire_key(conn, args.key_id, signing_now=signing_key_id(cfg))
    print(f"retired {key.key_id}: its {key.active_cards} active card(s) are refused (unknown_key) at every gateway "
          f"within {key_ring.KEY_REFRESH_S} s and at online kiosks with their next gate copy (15 s); "
          "`checkin cards reissue VOLUNTEER` gives a volunteer a new card")
    return 0


def add_parsers(cards: Any, leaf: Callable[[Any, str, Any, str], argparse.ArgumentParser]) -> None:
    """The two commands under `checkin cards` (leaf: admin.add_parsers' helper, which wires the connections)."""
    leaf(cards, "keys", cards_keys, "the card signing keys: which signs new cards, and how many cards each signed")
    p = leaf(cards, "retire-key", cards_retire_key, "retire a signing key: every card it signed is refused")
    p.add_argument("key_id")
    p.add_argument("--yes", action="store_true", help="retire it even though cards it signed still work")
