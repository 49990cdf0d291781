"""Staff sign-in (issue 18): sessions and their cookie, idle expiry, sign-out, revocation at once, backoff and
lockout with no user-name oracle, CSRF on changes, what a team lead's session may reach, the one-time
set-password link, and the audit entries made with a session. Real Postgres and Redis, the gateway in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import itertools
import secrets
import ssl
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import checkin.access.staff_sessions as sessions
from checkin.access.accounts import add_user
from checkin.access.operations import add_team_lead
from checkin.access.signin_rules import FREE_FAILURES, LOCK_AFTER
from checkin.config import Config
from checkin.gateway.app import create_app
from checkin.servers import free_port
from checkin.tls import ensure_local_certificate, server_ssl_context
from loadtest.event_factory import Scenario

PASSWORD = "lantern-festival-2024"
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
_addresses = itertools.count(1)

Client = Callable[..., Awaitable[TestClient]]


def fresh_address() -> dict[str, str]:
    """Another client behind a trusted proxy: the per-address budget is not what these tests are about."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"198.18.{n // 250}.{n % 250 + 1}"}


async def account(pool: asyncpg.Pool, role: str, event_id: str | None = None, team_id: str | None = None,
                  password: str | None = PASSWORD) -> tuple[str, str, str]:
    """A staff account with a sign-in name and (unless None) a password; returns (user_id, login, token)."""
    login = f"{role}-{secrets.token_hex(4)}"
    async with pool.acquire() as conn:
        if role == "team_lead":
            user_id, token = await add_team_lead(conn, login, str(event_id), str(team_id))
        else:
            user_id, token = await add_user(conn, login, role, event_id)
        await sessions.set_login(conn, user_id, login)
        if password:
            await conn.execute("UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id,
                               sessions.hash_password(password))
    return user_id, login, token


async def client_with(aiohttp_client: Client, config: Config, **changes: object) -> TestClient:
    return await aiohttp_client(create_app(dataclasses.replace(config, trusted_proxies=LOOPBACK, **changes)))


async def sign_in(client: TestClient, login: str, password: str = PASSWORD) -> tuple[int, dict[str, object]]:
    resp = await client.post("/api/v1/signin", json={"login": login, "password": password}, headers=fresh_address())
    return resp.status, await resp.json()


def csrf(body: dict[str, object]) -> dict[str, str]:
    return {"X-CSRF-Token": str(body["csrf_token"])}


@pytest.fixture
async def gw(aiohttp_client: Client, test_config: Config, scenario: Scenario) -> TestClient:
    return await client_with(aiohttp_client, test_config)


async def test_sign_in_sets_a_strict_httponly_cookie_and_the_session_opens_staff_routes(
        gw: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    user_id, login, _ = await account(pg_pool, "coordinator", scenario.event_id)
    headcount = f"/api/v1/events/{scenario.event_id}/headcount"
    assert (await gw.get(headcount)).status == 401
    resp = await gw.post("/api/v1/signin", json={"login": login.upper(), "password": PASSWORD}, headers=fresh_address())
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["user_id"] == user_id and body["role"] == "coordinator" and body["csrf_token"]
    cookies = {c.split("=", 1)[0]: c for c in resp.headers.getall("Set-Cookie")}
    session = cookies["checkin_session"].lower()
    assert "httponly" in session and "samesite=strict" in session and "path=/" in session
    assert "secure" not in session  # plain HTTP here; Secure comes with HTTPS
    assert "httponly" not in cookies["checkin_csrf"].lower() and body["csrf_token"] in cookies["checkin_csrf"]
    async with pg_pool.acquire() as conn:
        stored = await conn.fetchval("SELECT session_hash FROM staff_sessions WHERE user_id = $1", user_id)
    assert stored and stored not in cookies["checkin_session"]  # only a hash of the cookie's value is kept

    assert (await gw.get(headcount)).status == 200
    who = await gw.get("/api/v1/session")
    assert who.status == 200 and (await who.json())["csrf_token"] == body["csrf_token"]
    # the user's sign-in id works as well as the login
    assert (await sign_in(gw, user_id))[0] == 200


async def test_sign_out_ends_the_session(gw: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    _, login, _ = await account(pg_pool, "coordinator", scenario.event_id)
    status, body = await sign_in(gw, login)
    assert status == 200
    jar_value = next(c.value for c in gw.session.cookie_jar if c.key == "checkin_session")
    resp = await gw.post("/api/v1/signout", headers=csrf(body))
    assert resp.status == 200 and (await resp.json())["signed_out"] is True
    headcount = f"/api/v1/events/{scenario.event_id}/headcount"
    assert (await gw.get(headcount)).status == 401
    # the old cookie, kept by someone, no longer opens anything either
    again = await gw.get(headcount, cookies={"checkin_session": jar_value})
    assert again.status == 401


async def test_a_session_ends_when_idle(aiohttp_client: Client, test_config: Config, scenario: Scenario,
                                        pg_pool: asyncpg.Pool) -> None:
    client = await client_with(aiohttp_client, test_config, session_idle_s=2)
    _, login, _ = await account(pg_pool, "coordinator", scenario.event_id)
    assert (await sign_in(client, login))[0] == 200
    headcount = f"/api/v1/events/{scenario.event_id}/headcount"
    assert (await client.get(headcount)).status == 200
    await asyncio.sleep(2.5)
    resp = await client.get(headcount)
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"


async def test_a_revoked_accounts_session_stops_at_once(gw: TestClient, scenario: Scenario,
                                                        pg_pool: asyncpg.Pool) -> None:
    user_id, login, _ = await account(pg_pool, "coordinator", scenario.event_id)
    _, _, admin_token = await account(pg_pool, "admin")
    assert (await sign_in(gw, login))[0] == 200
    headcount = f"/api/v1/events/{scenario.event_id}/headcount"
    assert (await gw.get(headcount)).status == 200
    revoked = await gw.post(f"/api/v1/people/{user_id}/revoke", headers={"Authorization": f"Bearer {admin_token}"})
    assert revoked.status == 200, await revoked.text()
    assert (await gw.get(headcount)).status == 401
    assert (await sign_in(gw, login))[0] == 401


async def test_twenty_wrong_passwords_lock_and_an_unknown_name_gets_the_same_answers(
        aiohttp_client: Client, test_config: Config, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    client = await client_with(aiohttp_client, test_config, signin_backoff_ms=0)
    user_id, login, admin_token = await account(pg_pool, "admin")
    unknown = f"nobody-{secrets.token_hex(4)}"
    for attempt in range(LOCK_AFTER):
        known = await sign_in(client, login, f"wrong password {attempt}")
        stranger = await sign_in(client, unknown, f"wrong password {attempt}")
        assert known[0] == stranger[0] == 401, (attempt, known, stranger)
        assert {k: v for k, v in known[1].items() if k != "request_id"} == \
               {k: v for k, v in stranger[1].items() if k != "request_id"}
        assert known[1]["error"] == "bad_credentials"
    right = await sign_in(client, login)
    assert right[0] == 403 and right[1]["error"] == "account_locked"
    assert (await sign_in(client, unknown))[0] == 403
    # an admin's reset unlocks it; the right password then opens a session
    _, _, other_admin = await account(pg_pool, "admin")
    reset = await client.post(f"/api/v1/people/{user_id}/reset", headers={"Authorization": f"Bearer {other_admin}"})
    assert reset.status == 200 and "/kiosk/console/password.html#code=" in (await reset.json())["link"]
    assert (await sign_in(client, login))[0] == 200


async def test_repeated_failures_make_each_further_attempt_wait(
        aiohttp_client: Client, test_config: Config, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    client = await client_with(aiohttp_client, test_config, signin_backoff_ms=3000)
    _, login, _ = await account(pg_pool, "coordinator", scenario.event_id)
    for attempt in range(FREE_FAILURES):
        assert (await sign_in(client, login, f"wrong {attempt}"))[0] == 401
    resp = await client.post("/api/v1/signin", json={"login": login, "password": PASSWORD}, headers=fresh_address())
    assert resp.status == 429 and (await resp.json())["error"] == "signin_wait"  # even the right password waits
    wait = int(resp.headers["Retry-After"])
    assert wait >= 1
    await asyncio.sleep(wait + 0.2)
    assert (await sign_in(client, login))[0] == 200


async def test_a_cross_site_post_with_the_cookie_is_refused(gw: TestClient, scenario: Scenario,
                                                            pg_pool: asyncpg.Pool) -> None:
    _, login, token = await account(pg_pool, "coordinator", scenario.event_id)
    status, body = await sign_in(gw, login)
    assert status == 200
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for headers in (form, {**form, "X-CSRF-Token": "not-the-token"},
                    {**csrf(body), "Origin": "https://evil.example"}):
        resp = await gw.post("/api/v1/signout", data="x=1", headers=headers)
        assert resp.status == 403 and (await resp.json())["error"] == "csrf", headers
    assert (await gw.get("/api/v1/session")).status == 200  # still signed in: nothing was done
    own = f"http://{gw.server.host}:{gw.server.port}"
    resp = await gw.post("/api/v1/signout", headers={**csrf(body), "Origin": own})
    assert resp.status == 200
    # a bearer token needs no CSRF header: kiosks and scripts are unchanged
    resp = await gw.post("/api/v1/signout", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200 and (await resp.json())["signed_out"] is False


async def test_a_team_leads_session_reaches_only_their_team(gw: TestClient, scenario: Scenario,
                                                            pg_pool: asyncpg.Pool) -> None:
    own = await pg_pool.fetchval(
        "SELECT v.team_id FROM assignments a JOIN volunteers v USING (volunteer_id)"
        " WHERE a.event_id = $1 AND v.team_id IS NOT NULL LIMIT 1", scenario.event_id)
    other = await pg_pool.fetchval("SELECT team_id FROM teams WHERE team_id <> $1 LIMIT 1", own) or "T-another"
    teams = [own, other]
    _, login, _ = await account(pg_pool, "team_lead", scenario.event_id, teams[0])
    status, body = await sign_in(gw, login)
    assert status == 200 and body["role"] == "team_lead"
    ev = scenario.event_id
    assert (await gw.get(f"/api/v1/events/{ev}/teams/{teams[0]}/report")).status == 200
    refused = [("GET", f"/api/v1/events/{ev}/teams/{teams[1]}/report"), ("GET", f"/api/v1/events/{ev}/headcount"),
               ("GET", f"/api/v1/events/{ev}/hours"), ("GET", "/api/v1/people"),
               ("POST", "/api/v1/people"), ("POST", f"/api/v1/people/{body['user_id']}/reset"),
               ("POST", f"/api/v1/events/{ev}/acceptances")]
    for method, path in refused:
        resp = await gw.request(method, path, json={"role": "admin", "name": "x", "login": "x"}, headers=csrf(body))
        assert resp.status == 403, (method, path, resp.status)


async def test_the_set_password_link_is_single_use_and_signs_in(gw: TestClient, scenario: Scenario,
                                                                 pg_pool: asyncpg.Pool) -> None:
    _, admin_login, _ = await account(pg_pool, "admin")
    status, admin = await sign_in(gw, admin_login)
    assert status == 200
    login = f"coord-{secrets.token_hex(4)}"
    added = await gw.post("/api/v1/people", headers=csrf(admin), json={
        "role": "coordinator", "name": "林協調", "login": login, "event_id": scenario.event_id})
    assert added.status == 201, await added.text()
    person = await added.json()
    code = person["link"].split("#code=")[1]
    listed = await (await gw.get(f"/api/v1/people?event={scenario.event_id}&role=coordinator")).json()
    assert [p["has_password"] for p in listed["people"] if p["user_id"] == person["user_id"]] == [False]

    fresh = gw.session.cookie_jar
    fresh.clear()
    for password, code_word in (("short1", "password_too_short"), ("1234567890", "password_too_common"),
                                (login, "password_too_common")):
        resp = await gw.post("/api/v1/password", json={"code": code, "password": password})
        assert resp.status == 400 and (await resp.json())["error"] == code_word, password
    resp = await gw.post("/api/v1/password", json={"code": code, "password": PASSWORD})
    assert resp.status == 200 and (await resp.json())["user_id"] == person["user_id"]
    assert (await gw.get(f"/api/v1/events/{scenario.event_id}/headcount")).status == 200  # signed in by it
    again = await gw.post("/api/v1/password", json={"code": code, "password": "another long password"})
    assert again.status == 410 and (await again.json())["error"] == "link_used"
    assert (await sign_in(gw, login))[0] == 200
    unknown = await gw.post("/api/v1/password", json={"code": "no-such-code", "password": PASSWORD})
    assert unknown.status == 404


async def test_a_set_password_link_expires(gw: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    user_id, _, _ = await account(pg_pool, "coordinator", scenario.event_id, password=None)
    async with pg_pool.acquire() as conn:
        code = await sessions.make_password_link(conn, user_id, timedelta(seconds=1))
    await asyncio.sleep(1.5)
    resp = await gw.post("/api/v1/password", json={"code": code, "password": PASSWORD})
    assert resp.status == 410 and (await resp.json())["error"] == "link_expired"


async def test_changes_made_with_a_session_are_audited_with_the_person(
        gw: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    admin_id, admin_login, _ = await account(pg_pool, "admin")
    status, admin = await sign_in(gw, admin_login)
    assert status == 200
    user_id, _, _ = await account(pg_pool, "coordinator", scenario.event_id)
    assert (await gw.post(f"/api/v1/people/{user_id}/reset", headers=csrf(admin))).status == 200
    refused = await gw.post(f"/api/v1/events/{scenario.event_id}/acceptances", headers=csrf(admin), json={})
    assert refused.status == 400
    rows = await pg_pool.fetch("SELECT action, subject, event_id, detail FROM audit_log WHERE actor = $1"
                               " ORDER BY audit_id", admin_id)
    seen = [(r["action"], r["subject"]) for r in rows]
    assert ("signin", admin_id) in seen
    assert ("console_change", "/api/v1/people/{user_id}/reset") in seen and ("user_reset", user_id) in seen
    last = rows[-1]
    assert last["action"] == "console_change" and last["event_id"] == scenario.event_id
    assert '"status": 400' in last["detail"] and '"method": "POST"' in last["detail"]
    # a read is not a change: nothing written
    before = len(rows)
    assert (await gw.get("/api/v1/people")).status == 200
    assert await pg_pool.fetchval("SELECT count(*) FROM audit_log WHERE actor = $1", admin_id) == before




async def test_over_https_the_session_cookie_is_secure(test_config: Config, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                      tmp_path: Path) -> None:
    tls = ensure_local_certificate(tmp_path, ["localhost", "127.0.0.1"])
    config = dataclasses.replace(test_config, tls_cert=tls.cert, tls_key=tls.key)
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_ssl_context(config)).start()
    try:
        _, login, _ = await account(pg_pool, "coordinator", scenario.event_id)
        trust = ssl.create_default_context(cafile=str(tls.ca_cert))
        async with aiohttp.ClientSession() as http:
            async with http.post(f"https://localhost:{port}/api/v1/signin", ssl=trust,
                                 json={"login": login, "password": PASSWORD}) as resp:
                assert resp.status == 200
                cookies = {c.split("=", 1)[0]: c.lower() for c in resp.headers.getall("Set-Cookie")}
    finally:
        await runner.cleanup()
    assert "secure" in cookies["checkin_session"] and "httponly" in cookies["checkin_session"]
    assert "secure" in cookies["checkin_csrf"]


async def test_bad_input_to_the_new_routes_is_a_4xx_naming_the_field(gw: TestClient, scenario: Scenario,
                                                                     pg_pool: asyncpg.Pool) -> None:
    admin_id, _, admin_token = await account(pg_pool, "admin")
    admin = {"Authorization": f"Bearer {admin_token}"}
    cases = [
        ("POST", "/api/v1/signin", [], {}, "invalid_json", None),
        ("POST", "/api/v1/signin", {"login": 5, "password": "x"}, {}, "invalid_field", "login"),
        ("POST", "/api/v1/signin", {"login": "someone"}, {}, "invalid_field", "password"),
        ("POST", "/api/v1/signin", {"login": "someone", "password": "x" * 300}, {}, "invalid_field", "password"),
        ("POST", "/api/v1/password", {"code": "x" * 500, "password": PASSWORD}, {}, "invalid_field", "code"),
        ("POST", "/api/v1/password", {"code": "abc", "password": ["x"]}, {}, "invalid_field", "password"),
        ("GET", "/api/v1/people?role=volunteer", None, admin, "invalid_field", "role"),
        ("GET", "/api/v1/people?event=not%20an%20id", None, admin, "invalid_field", "event"),
        ("POST", "/api/v1/people", {"role": "boss", "name": "x", "login": "x"}, admin, "invalid_field", "role"),
        ("POST", "/api/v1/people", {"role": "coordinator", "name": "x", "login": "x"}, admin, "invalid_field",
         "event_id"),
        ("POST", "/api/v1/people", {"role": "coordinator", "name": "x", "login": "x", "event_id": "ev-none"}, admin,
         "not_found", "event_id"),
        ("POST", "/api/v1/people", {"role": "coordinator", "name": "x", "login": "x", "event_id": scenario.event_id,
                                    "team_id": "T-x"}, admin, "invalid_field", None),
        ("POST", "/api/v1/people/U-nobody/reset", None, admin, "not_found", "user_id"),
        ("POST", "/api/v1/people/U-nobody/revoke", None, admin, "not_found", "user_id"),
    ]
    for method, path, body, headers, code, field in cases:
        resp = await gw.request(method, path, json=body, headers={**headers, **fresh_address()})
        answer = await resp.json()
        assert 400 <= resp.status < 500 and (answer["error"], answer["field"]) == (code, field), (path, body, answer)
    # An admin's own account: refused with a reason of its own, worded for the People page in Chinese.
    own = await gw.post(f"/api/v1/people/{admin_id}/revoke", headers={**admin, **fresh_address()})
    assert own.status == 409 and (await own.json())["error"] == "own_account"
    assert (await own.json())["message_zh"] == "不能停用自己的帳號，請由另一位管理員停用"
    taken = {"role": "admin", "name": "x", "login": f"same-{secrets.token_hex(3)}"}
    assert (await gw.post("/api/v1/people", json=taken, headers=admin)).status == 201
    again = await gw.post("/api/v1/people", json=taken, headers=admin)
    assert again.status == 409 and (await again.json())["error"] == "login_taken"
