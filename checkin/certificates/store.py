"""Certificates in Postgres: issue (superseding the volunteer's earlier one), revoke, look up, verify.

Issuing and revoking are audited like corrections; verifying is public and read-only: it re-derives the
volunteer's hours (a few rows) and compares them with what the certificate said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

import checkin.reconcile.store as reconcile
from checkin.certificates.content import (
    CERT_ID_RE,
    CertificateContent,
    Standing,
    check_code,
    content_for,
    fingerprint,
    new_cert_id,
    standing,
)
from checkin.errors import Conflict, NotFound


class NothingToCertify(Conflict, ValueError):
    """The volunteer has no record-book hours at the event (yet)."""

    default_code = "no_hours"


@dataclass(frozen=True)
class Certificate:
    cert_id: str
    event_id: str
    volunteer_id: str
    content: CertificateContent
    fingerprint: str
    issued_by: str
    issued_at: datetime
    superseded_by: str | None
    superseded_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None

    @property
    def code(self) -> str:
        return check_code(self.fingerprint)


_COLUMNS = ("cert_id, event_id, volunteer_id, content, fingerprint, issued_by, issued_at, superseded_by,"
            " superseded_at, revoked_at, revoked_reason")


_AT_EVENT = ("SELECT 1 FROM assignments WHERE event_id = $1 AND volunteer_id = $2"
             " UNION ALL SELECT 1 FROM scans WHERE event_id = $1 AND volunteer_id = $2"
             " UNION ALL SELECT 1 FROM corrections WHERE event_id = $1 AND volunteer_id = $2 LIMIT 1")


def _from_row(r: asyncpg.Record) -> Certificate:
    return Certificate(r[0], r[1], r[2], CertificateContent.from_canonical(r[3]), r[4], r[5], r[6], r[7], r[8],
                       r[9], r[10])


async def current_content(conn: asyncpg.Connection, event_id: str, volunteer_id: str) -> CertificateContent | None:
    """What a certificate issued now would say; None without credited record-book hours.
    LookupError for an unknown event or volunteer."""
    event_name = await conn.fetchval("SELECT name FROM events WHERE event_id = $1", event_id)
    if event_name is None:
        raise NotFound(f"no event {event_id!r}", field="event_id")
    if await conn.fetchval(_AT_EVENT, event_id, volunteer_id) is None:
        # the same answer for an id unknown anywhere: nothing is told about other events' volunteers
        raise NotFound(f"no volunteer {volunteer_id!r} at event {event_id!r}", field="volunteer_id")
    member = (await reconcile.load_members(conn, event_id, [volunteer_id])).get(volunteer_id)
    if member is None:
        raise NotFound(f"no volunteer {volunteer_id!r}", field="volunteer_id")
    content = content_for(await reconcile.derive_volunteer(conn, event_id, volunteer_id), member, event_id,
                          str(event_name))
    return content if content.days else None


async def issue(conn: asyncpg.Connection, event_id: str, volunteer_id: str, actor: str) -> Certificate:
    """A new certificate of the volunteer's hours now; earlier ones of the same event are superseded.

    NotAllowed unless an admin or a coordinator of the event; LookupError for an unknown event or volunteer;
    NothingToCertify without credited hours.
    """
    return (await _issue(conn, event_id, volunteer_id, actor, reuse=False))[0]


async def _issue(conn: asyncpg.Connection, event_id: str, volunteer_id: str, actor: str,
                 *, reuse: bool) -> tuple[Certificate, bool]:
    await reconcile.actor_role(conn, actor, event_id)
    async with conn.transaction():
        # One issue at a time per volunteer, so two offices issuing at once leave exactly one valid.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"certificate:{event_id}:{volunteer_id}")
        content = await current_content(conn, event_id, volunteer_id)
        if content is None:
            raise NothingToCertify(f"volunteer {volunteer_id!r} has no record-book hours at {event_id!r} to certify")
        if reuse:
            held = [c for c in await for_event(conn, event_id, volunteer_id)
                    if c.superseded_by is None and c.revoked_at is None]
            if held and held[-1].content == content:
                return held[-1], False
        cert_id = new_cert_id()
        canonical = content.canonical()
        digest = fingerprint(cert_id, canonical)
        await conn.execute(
            "INSERT INTO certificates (cert_id, event_id, volunteer_id, content, fingerprint, issued_by)"
            " VALUES ($1, $2, $3, $4, $5, $6)", cert_id, event_id, volunteer_id, canonical.decode(), digest, actor)
        superseded = await conn.fetch(
            "UPDATE certificates SET superseded_by = $1, superseded_at = now() WHERE event_id = $2"
            " AND volunteer_id = $3 AND cert_id <> $1 AND superseded_by IS NULL RETURNING cert_id",
            cert_id, event_id, volunteer_id)
        await reconcile.audit(conn, actor, "certificate_issue", event_id, volunteer_id, {
            "cert_id": cert_id, "minutes": content.total_minutes, "fingerprint": digest,
            "supersedes": [r[0] for r in superseded]})
    found = await get(conn, cert_id)
    assert found is not None
    return found, True


async def current_or_issue(conn: asyncpg.Connection, event_id: str, volunteer_id: str,
                           actor: str) -> tuple[Certificate, bool]:
    """The volunteer's certificate that still holds, else a new one; (certificate, True when new).
    Refusals as issue()."""
    return await _issue(conn, event_id, volunteer_id, actor, reuse=True)


async def revoke(conn: asyncpg.Connection, cert_id: str, actor: str, reason: str) -> Certificate:
    """Withdraw a certificate (issued in error, to the wrong person): admin only, audited, refusals too.

    ValueError without a reason, LookupError for an unknown certificate, NotAllowed for anyone but an admin.
    Revoking twice keeps the first revocation.
    """
    if not reason.strip():
        raise ValueError("a revocation needs a reason")
    cert = await get(conn, cert_id)
    if cert is None:
        raise NotFound(f"no certificate {cert_id!r}", field="cert_id")
    async with conn.transaction():
        if not await reconcile.is_admin(conn, actor):
            await reconcile.audit(conn, actor, "certificate_revoke_refused", cert.event_id, cert.volunteer_id,
                                  {"cert_id": cert_id, "reason": reason})
            refused = True
        else:
            refused = False
            await conn.execute("UPDATE certificates SET revoked_at = now(), revoked_by = $2, revoked_reason = $3"
                               " WHERE cert_id = $1 AND revoked_at IS NULL", cert_id, actor, reason.strip())
            await reconcile.audit(conn, actor, "certificate_revoke", cert.event_id, cert.volunteer_id,
                                  {"cert_id": cert_id, "reason": reason})
    if refused:
        raise reconcile.NotAllowed(f"only an admin may revoke a certificate; {actor!r} is not one")
    found = await get(conn, cert_id)
    assert found is not None
    return found


async def get(conn: asyncpg.Connection | asyncpg.Pool, cert_id: str) -> Certificate | None:
    if not CERT_ID_RE.match(cert_id):
        return None
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM certificates WHERE cert_id = $1", cert_id)
    return _from_row(row) if row else None


async def for_event(conn: asyncpg.Connection, event_id: str, volunteer_id: str | None = None) -> list[Certificate]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM certificates WHERE event_id = $1 AND ($2::text IS NULL OR volunteer_id = $2)"
        " ORDER BY issued_at, cert_id", event_id, volunteer_id)
    return [_from_row(r) for r in rows]


async def verify(conn: asyncpg.Connection, cert_id: str) -> tuple[Certificate, Standing] | None:
    """The certificate and whether it still holds, or None for an id never issued."""
    cert = await get(conn, cert_id)
    if cert is None:
        return None
    current = None
    if cert.revoked_at is None and cert.superseded_by is None:
        current = await current_content(conn, cert.event_id, cert.volunteer_id)
    return cert, standing(revoked=cert.revoked_at is not None, superseded_by=cert.superseded_by,
                          issued=cert.content, current=current)
