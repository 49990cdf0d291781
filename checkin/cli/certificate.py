"""`checkin certificate issue|list|revoke|verify`: service certificates (服務證明) from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from tqdm import tqdm

import checkin.certificates.store as store
import checkin.reconcile.store as reconcile
from checkin.certificates.content import content_for, verify_url
from checkin.certificates.pdf import certificates_pdf
from checkin.cli.device import gateway_url
from checkin.cli.say import out, refusing
from checkin.config import Config
from checkin.keys import Keys


async def _event_row(conn: asyncpg.Connection, event_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT name, tz FROM events WHERE event_id = $1", event_id)
    if row is None:
        raise LookupError(f"no event {event_id!r}")
    return row


async def _everyone(conn: asyncpg.Connection, event_id: str, actor: str, quiet: bool) -> tuple[list[store.Certificate], int]:
    """A current certificate for every volunteer with record-book hours: kept when it still holds, else new."""
    event = await _event_row(conn, event_id)
    await reconcile.actor_role(conn, actor, event_id)  # refuse before reconciling a whole event
    results = await reconcile.reconcile_event(conn, event_id, progress=not quiet)
    members = await reconcile.load_members(conn, event_id)
    latest = {c.volunteer_id: c for c in await store.for_event(conn, event_id)
              if c.superseded_by is None and c.revoked_at is None}
    certs, issued = [], 0
    for r in tqdm(results, unit="volunteer", desc="certificates", file=sys.stderr, disable=quiet):
        member = members.get(r.volunteer_id)
        if member is None:
            continue
        now = content_for(r, member, event_id, str(event["name"]))
        if not now.days:
            continue
        held = latest.get(r.volunteer_id)
        if held is None or held.content != now:
            held = await store.issue(conn, event_id, r.volunteer_id, actor)
            issued += 1
        certs.append(held)
    return certs, issued


@refusing(reconcile.NotAllowed)
async def cmd_issue(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                    redis: aioredis.Redis, keys: Keys) -> int:
    if bool(args.volunteer) == bool(args.all):
        raise ValueError("name one --volunteer, or --all for everyone with record-book hours")
    event = await _event_row(conn, args.event)
    base = gateway_url(cfg, args.base_url)
    if not args.base_url and not cfg.public_url:
        print(f"note: the QR codes lead to {base}; set CHECKIN_PUBLIC_URL (or --base-url) to the address "
              "schools and employers reach", file=sys.stderr)
    if args.volunteer:  # a reprint keeps the certificate that still holds
        cert, new = await store.current_or_issue(conn, args.event, args.volunteer, args.actor)
        certs, issued = [cert], int(new)
    else:
        certs, issued = await _everyone(conn, args.event, args.actor, args.quiet)
    if not certs:
        print(f"nobody at {args.event} has record-book hours to certify yet")
        return 0
    pages = certificates_pdf([(c, verify_url(base, c.cert_id)) for c in certs], args.out, timezone=str(event["tz"]),
                             progress=not args.quiet)
    print(f"{issued:,} certificate(s) issued, {len(certs) - issued:,} unchanged kept; {pages:,} page(s) in {args.out}")
    if len(certs) == 1:
        c = certs[0]
        print(f"{c.content.name}: {c.content.total_minutes / 60:g} hours, no. {c.cert_id}, check code {c.code}")
        print(f"verify at {verify_url(base, c.cert_id)}")
    return 0


def _row(c: store.Certificate) -> dict[str, Any]:
    return {"cert_id": c.cert_id, "volunteer_id": c.volunteer_id, "name": c.content.name,
            "hours": c.content.total_minutes / 60, "code": c.code, "issued_at": c.issued_at.isoformat(),
            "issued_by": c.issued_by, "superseded_by": c.superseded_by,
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None, "revoked_reason": c.revoked_reason}


async def cmd_list(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                   redis: aioredis.Redis, keys: Keys) -> int:
    await _event_row(conn, args.event)
    out([_row(c) for c in await store.for_event(conn, args.event, args.volunteer)])
    return 0


@refusing(reconcile.NotAllowed)
async def cmd_revoke(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                     redis: aioredis.Redis, keys: Keys) -> int:
    cert = await store.revoke(conn, args.cert, args.actor, args.reason)
    print(f"certificate {cert.cert_id} of {cert.content.name} revoked")
    return 0


async def cmd_verify(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                     redis: aioredis.Redis, keys: Keys) -> int:
    found = await store.verify(conn, args.cert)
    if found is None:
        print(f"checkin: no certificate {args.cert!r} was issued here", file=sys.stderr)
        return 1
    cert, standing = found
    out({**_row(cert), "status": standing.status, "reason": standing.reason})
    return 0 if standing.status == "valid" else 1


def add_parsers(sub: Any, run: Any) -> None:
    top = sub.add_parser("certificate", help="service certificates (服務證明) with a QR code to verify them")
    cmds = top.add_subparsers(dest="certificate_cmd", required=True)

    def leaf(name: str, action: Any, text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = cmds.add_parser(name, help=text)
        p.set_defaults(func=run, action=action)
        return p

    p = leaf("issue", cmd_issue, "issue a volunteer's certificate (or everyone's) and write the PDF")
    p.add_argument("--event", required=True)
    p.add_argument("--volunteer", help="one volunteer")
    p.add_argument("--all", action="store_true",
                   help="everyone with record-book hours; certificates that still hold are kept, not reissued")
    p.add_argument("--actor", required=True, help="user id of the admin or coordinator issuing")
    p.add_argument("--out", required=True, help="the PDF to write (a page per certificate)")
    p.add_argument("--base-url", help="where verifiers reach the gateway (default CHECKIN_PUBLIC_URL)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = leaf("list", cmd_list, "the event's certificates, superseded and revoked ones too (JSON)")
    p.add_argument("--event", required=True)
    p.add_argument("--volunteer")

    p = leaf("revoke", cmd_revoke, "withdraw a certificate (admin, audited)")
    p.add_argument("cert")
    p.add_argument("--reason", required=True)
    p.add_argument("--actor", required=True, help="user id of the admin revoking")

    p = leaf("verify", cmd_verify, "what the verification page says of a certificate (exit 1 unless valid)")
    p.add_argument("cert")
