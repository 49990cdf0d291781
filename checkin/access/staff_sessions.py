"""Staff sign-in with a name and password, the sessions it opens, and the one-time links that set a password.

Only hashes are stored: Argon2 for passwords, sha256 for session ids and link codes. Every request reads its
session row (nothing caches one), so a revoked session or account stops at once. The rules (password policy,
waits, lockout) are pure, in checkin/access/signin_rules.py."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from checkin.access import signin_rules as rules
from checkin.errors import Conflict, Gone, NotFound
from checkin.tokens import token_hash

PASSWORD_PAGE = "/kiosk/console/password.html"
SESSION_COOKIE = "checkin_session"  # HttpOnly; read by the gateway and the live server
# Argon2id at OWASP's recommended floor (19 MiB, 2 passes, 1 lane) rather than argon2-cffi's default (64 MiB,
# 3 passes, 4 lanes): the gateway shares a small venue machine with the scan path, and measured under load the
# default cost about 6 times as much a check (loadtest/bench_signin.py). The parameters live in each stored hash,
# so raising them later still checks old hashes.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Checked when a name has no account or no password, so an unknown name costs the same time as a wrong password.
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Staff:
    """A signed-in person, read from their session row on each request."""

    user_id: str
    name: str
    role: str
    event_id: str | None
    team_id: str | None
    token_hash: str  # the account's token hash: names the person's synthetic desk device (operations)
    session_hash: str
    csrf_token: str


@dataclass(frozen=True)
class Opened:
    """A new session: the cookie's value (shown once, never stored) and the page's CSRF token."""

    session_id: str
    csrf_token: str
    user_id: str


@dataclass(frozen=True)
class Refused:
    """A sign-in refused: wait_ms > 0 (try later), locked, or simply wrong (the same for an unknown name)."""

    wait_ms: int = 0
    locked: bool = False


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def open_session(conn: asyncpg.Connection | asyncpg.Pool, user_id: str) -> Opened:
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    await conn.execute("INSERT INTO staff_sessions (session_hash, user_id, csrf_token) VALUES ($1, $2, $3)",
                       token_hash(session_id), user_id, csrf)
    return Opened(session_id, csrf, user_id)


async def sign_in(pool: asyncpg.Pool, login: str, password: str, *, backoff_ms: int,
                  backoff_max_ms: int) -> Opened | Refused:
    """Check a login and password under the per-login guard; open a session when they match."""
    key = login.strip().lower()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO signin_guard (login) VALUES ($1) ON CONFLICT DO NOTHING", key)
        guard = await conn.fetchrow(
            "SELECT failures, locked_at IS NOT NULL AS locked,"
            " greatest(0, ceil(extract(epoch FROM next_try_at - clock_timestamp()) * 1000))::bigint AS wait_ms"
            " FROM signin_guard WHERE login = $1 FOR UPDATE", key)
        if guard["locked"]:
            return Refused(locked=True)
        if guard["wait_ms"] > 0:
            return Refused(wait_ms=int(guard["wait_ms"]))
        user = await conn.fetchrow(
            "SELECT user_id, password_hash FROM users WHERE (lower(login) = $1 OR user_id = $2) AND revoked_at IS NULL"
            " ORDER BY user_id = $2 DESC LIMIT 1", key, login.strip())
        stored = user["password_hash"] if user else None
        if await asyncio.to_thread(_verify, stored, password):
            await conn.execute("DELETE FROM signin_guard WHERE login = $1", key)
            return await open_session(conn, user["user_id"])
        failures = guard["failures"] + 1
        wait = rules.wait_after(failures, backoff_ms, backoff_max_ms)
        await conn.execute(
            "UPDATE signin_guard SET failures = $2, next_try_at = clock_timestamp() + $3 * interval '1 millisecond',"
            " locked_at = CASE WHEN $4 THEN now() END WHERE login = $1", key, failures, wait, rules.locks(failures))
        return Refused()


async def staff_for_session(conn: asyncpg.Connection | asyncpg.Pool, session_id: str | None, *, idle_s: int,
                            max_s: int) -> Staff | None:
    """The person behind a session cookie, when the session is live (not revoked, idle or too old) and the account
    is not revoked; marks it used now, which is what keeps it from going idle."""
    if not session_id or len(session_id) > 100:
        return None
    digest = token_hash(session_id)
    row = await conn.fetchrow(
        "UPDATE staff_sessions s SET last_seen_at = now() FROM users u"
        " WHERE s.session_hash = $1 AND s.revoked_at IS NULL AND u.user_id = s.user_id AND u.revoked_at IS NULL"
        " AND s.last_seen_at > now() - $2 * interval '1 second' AND s.created_at > now() - $3 * interval '1 second'"
        " RETURNING u.user_id, u.name, u.role, u.event_id, u.team_id, u.token_hash, s.csrf_token",
        digest, idle_s, max_s)
    if row is None:
        return None
    return Staff(row["user_id"], row["name"], row["role"], row["event_id"], row["team_id"], row["token_hash"],
                 digest, row["csrf_token"])


def csrf_matches(staff: Staff, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(staff.csrf_token.encode(), (sent or "").encode())


async def end_session(conn: asyncpg.Connection | asyncpg.Pool, session_hash: str) -> None:
    await conn.execute("UPDATE staff_sessions SET revoked_at = now() WHERE session_hash = $1 AND revoked_at IS NULL",
                       session_hash)


# --- one-time links to choose a password ------------------------------------------------------------

def password_url(base: str, code: str) -> str:
    return f"{base.rstrip('/')}{PASSWORD_PAGE}#code={code}"


async def make_password_link(conn: asyncpg.Connection, user_id: str, ttl: timedelta) -> str:
    """A new one-time code for the user (their earlier unused ones stop), and the login unlocked: what an admin's
    reset does. Returns the code, shown once."""
    async with conn.transaction():
        login = await conn.fetchrow("SELECT lower(login) AS login FROM users WHERE user_id = $1 AND revoked_at IS NULL",
                                    user_id)
        if login is None:
            raise NotFound(f"no active user {user_id!r}", code="not_found", field="user_id")
        await conn.execute("UPDATE password_links SET used_at = now() WHERE user_id = $1 AND used_at IS NULL", user_id)
        await conn.execute("DELETE FROM signin_guard WHERE login = ANY($1::text[])",
                           [k for k in (login["login"], user_id.lower()) if k])
        code = secrets.token_urlsafe(32)
        await conn.execute("INSERT INTO password_links (code_hash, user_id, expires_at)"
                           " VALUES ($1, $2, now() + $3 * interval '1 second')",
                           token_hash(code), user_id, ttl.total_seconds())
    return code


async def set_password(pool: asyncpg.Pool, code: str, password: str) -> Opened:
    """Use a one-time link: check the password, store its hash, spend the link and sign the person in."""
    if not code or len(code) > 100:
        raise NotFound("this link is not known here", code="link_unknown", field="code")
    async with pool.acquire() as conn, conn.transaction():
        link = await conn.fetchrow(
            "SELECT l.user_id, l.used_at IS NOT NULL AS used, l.expires_at <= now() AS expired, u.login, u.name,"
            " u.revoked_at IS NOT NULL AS revoked FROM password_links l JOIN users u USING (user_id)"
            " WHERE l.code_hash = $1 FOR UPDATE OF l", token_hash(code))
        if link is None or link["revoked"]:
            raise NotFound("this link is not known here", code="link_unknown", field="code")
        if link["used"]:
            raise Gone("this link was used already; ask an admin for a new one", code="link_used", field="code")
        if link["expired"]:
            raise Gone("this link has expired; ask an admin for a new one", code="link_expired", field="code")
        rules.check_password(password, login=link["login"], name=link["name"])
        hashed = await asyncio.to_thread(hash_password, password)
        await conn.execute("UPDATE password_links SET used_at = now() WHERE code_hash = $1", token_hash(code))
        await conn.execute("UPDATE users SET password_hash = $2 WHERE user_id = $1", link["user_id"], hashed)
        await conn.execute("INSERT INTO audit_log (actor, action, subject) VALUES ($1, 'password_set', $1)",
                           link["user_id"])
        return await open_session(conn, link["user_id"])


# --- logins -------------------------------------------------------------------------------------------

async def set_login(conn: asyncpg.Connection, user_id: str, login: str) -> None:
    """Give an account the name it signs in with (unique whatever its case)."""
    try:
        await conn.execute("UPDATE users SET login = $2 WHERE user_id = $1", user_id, login.strip())
    except asyncpg.UniqueViolationError:
        raise Conflict(f"the sign-in name {login!r} is taken; choose another", code="login_taken",
                       field="login") from None


async def people(conn: asyncpg.Connection | asyncpg.Pool, event_id: str | None, role: str | None) -> list[dict[str, Any]]:
    """Staff accounts, of one event (and the admins) or all, with whether each can sign in."""
    rows = await conn.fetch(
        "SELECT u.user_id, u.name, u.login, u.role, u.event_id, u.team_id, u.created_at, u.revoked_at,"
        " u.password_hash IS NOT NULL AS has_password, g.locked_at IS NOT NULL AS locked"
        " FROM users u LEFT JOIN signin_guard g ON g.login = lower(u.login)"
        " WHERE ($1::text IS NULL OR u.event_id = $1 OR u.role = 'admin') AND ($2::text IS NULL OR u.role = $2)"
        " ORDER BY u.revoked_at IS NOT NULL, u.role, u.name, u.user_id", event_id, role)
    return [{**dict(r), "created_at": r["created_at"].isoformat(),
             "revoked_at": r["revoked_at"].isoformat() if r["revoked_at"] else None} for r in rows]
