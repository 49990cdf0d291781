"""`checkin export-national-ids`: the one place national ID numbers leave the database in the clear.

Admin only, every run audited (refusals too), the file written owner-only. The IDs are for the record book,
so the export lists the volunteers the event concerns (as the record-book export does) that have one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

import checkin.hours.exports as exports
from checkin import pii
from checkin.cli.say import refusing
from checkin.config import Config
from checkin.keys import Keys
from checkin.reconcile.store import NotAllowed, audit, is_admin

HEADER = ("志工編號", "姓名", "紀錄冊編號", "身分證字號")

_ROWS = """
SELECT v.volunteer_id, v.name, coalesce(v.record_book_no, ''), v.national_id_enc FROM volunteers v
WHERE v.national_id_enc IS NOT NULL AND v.volunteer_id IN (
    SELECT volunteer_id FROM assignments WHERE event_id = $1
    UNION SELECT volunteer_id FROM scans WHERE event_id = $1 AND volunteer_id IS NOT NULL)
ORDER BY 3, 2, 1
"""


async def national_id_rows(conn: asyncpg.Connection, event_id: str, actor: str,
                           key_path: Path) -> list[tuple[str, str, str, str]]:
    """The event's volunteers with their national IDs decrypted; NotAllowed (audited) unless actor is an admin.

    LookupError for an unknown event; pii.DecryptError names a volunteer whose ciphertext does not open."""
    if await conn.fetchval("SELECT 1 FROM events WHERE event_id = $1", event_id) is None:
        raise LookupError(f"no event {event_id!r}")
    if not await is_admin(conn, actor):
        await audit(conn, actor, "national_ids_export_refused", event_id, "national_ids", {})
        raise NotAllowed(f"only an admin may export national IDs; {actor!r} is not one")
    key = pii.load_or_create_key(key_path)
    rows = []
    for vid, name, book, blob in await conn.fetch(_ROWS, event_id):
        try:
            rows.append((vid, name, book, pii.decrypt(key, blob, vid)))
        except pii.DecryptError as exc:
            raise pii.DecryptError(f"{vid}: {exc}") from None
    await audit(conn, actor, "national_ids_export", event_id, "national_ids", {"rows": len(rows)})
    return rows


def write_private_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """A BOM'd UTF-8 CSV readable by its owner only (it holds IDs in the clear)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file that already existed keeps its mode otherwise
    with os.fdopen(fd, "wb") as handle:
        handle.write(exports.csv_bytes(HEADER, rows))


@refusing(NotAllowed)
async def cmd_export_national_ids(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                                  redis: aioredis.Redis, keys: Keys) -> int:
    try:
        rows = await national_id_rows(conn, args.event, args.actor, cfg.pii_key_path)
    except pii.DecryptError as exc:
        print(f"checkin: error: {exc}", file=sys.stderr)
        return 1
    write_private_csv(Path(args.out), rows)
    print(f"{args.out}: {len(rows)} national IDs (owner-only file; the export is in the audit log)")
    return 0


def add_parsers(sub: Any, run: Any) -> None:
    p = sub.add_parser("export-national-ids", help="CSV of the event's volunteers' national IDs (admin, audited)")
    p.set_defaults(func=run, action=cmd_export_national_ids)
    p.add_argument("--event", required=True)
    p.add_argument("--out", required=True, help="the CSV file to write (created owner-only)")
    p.add_argument("--actor", required=True, help="user id of the admin exporting")
