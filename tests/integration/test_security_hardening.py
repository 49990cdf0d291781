"""Regression tests for the gateway findings of the security review (issue 17), one or more per finding.

Each was seen failing on the code before its fix; the finding's id (H1, M4, L4 ...) is in the test's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ipaddress
import logging
import re
import secrets
import socket
import struct
import time
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from yarl import URL

from checkin.access.accounts import add_user, revoke_device
from checkin.access.operations import hash_pin
from checkin.config import Config
from checkin.events.rebuild import rebuild_if_lost
from checkin.gateway import address_limits, auth
from checkin.gateway.address_limits import BUDGETS, ROUTES
from checkin.gateway.app import create_app, kiosk_dir, make_runner
from checkin.gateway.pin_tries import FREE
from checkin.gateway.rate_limit import RateLimiter
from checkin.gateway.state import state_key
from checkin.keys import Keys
from checkin.servers import free_port
from loadtest.event_factory import Scenario, make_event
from tests.integration.test_console_setup import b64, roster_csv
from tests.integration.test_office_api import make_office


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _rebuilt_or_quiet(gateway, event_id: str) -> None:  # type: ignore[no-untyped-def]
    """Wait (bounded) until no rebuild of the event is running in the gateway."""
    state = gateway.app[state_key]
    for _ in range(200):
        if not state.is_rebuilding(event_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"a rebuild of {event_id} is still running after 10 s")


# --- H1: nothing is loaded or started for a request that has not authenticated ---------------------

async def test_h1_made_up_token_is_401_and_starts_nothing(gateway, scenario: Scenario, redis_client: aioredis.Redis,
                                                          keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    event_id = f"evX{secrets.token_hex(4)}"
    body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
    # A genuine scan first: the gate is then known, so the made-up token reaches the scan script itself
    # (the flood test below meets the gate lookup before it).
    assert (await gateway.post("/api/v1/scans", json=body, headers=_bearer(scenario.device_token))).status == 200
    body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
    with caplog.at_level(logging.INFO):
        resp = await gateway.post("/api/v1/scans", json=body, headers=_bearer(f"{event_id}.D1.s"))
        assert resp.status == 401
        assert (await resp.json())["error"] == "unknown_device"
        assert not gateway.app[state_key].is_rebuilding(event_id)
        await _rebuilt_or_quiet(gateway, event_id)
    assert await redis_client.keys(f"*{event_id}*") == []
    assert [r for r in caplog.records if event_id in r.getMessage()] == []


async def test_h1_token_naming_a_draft_event_does_not_load_it(gateway, pg_pool: asyncpg.Pool,
                                                              redis_client: aioredis.Redis, keys: Keys) -> None:
    async with pg_pool.acquire() as conn:
        draft = await make_event(conn, redis_client, keys, volunteers=2, status="draft")
    ev = keys.event(draft.event_id)
    await redis_client.delete(*ev.all_state())  # a draft is not in Redis until it opens
    resp = await gateway.post("/api/v1/scans", json=draft.scan(draft.cards[0][1], f"{draft.event_id}-desk"),
                              headers=_bearer(draft.device_token))
    assert resp.status == 401
    await _rebuilt_or_quiet(gateway, draft.event_id)
    assert not await redis_client.exists(ev.meta)
    async with pg_pool.acquire() as conn:  # nor by a rebuild asked for some other way
        assert await rebuild_if_lost(conn, redis_client, keys, draft.event_id) is False
    assert not await redis_client.exists(ev.meta)


async def test_h1_enrolled_device_still_gets_its_lost_event_rebuilt(gateway, scenario: Scenario,
                                                                    redis_client: aioredis.Redis, keys: Keys) -> None:
    ev = keys.event(scenario.event_id)
    await redis_client.delete(*ev.all_state())
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk"),
                              headers=_bearer(scenario.device_token))
    assert resp.status == 503 and (await resp.json())["error"] == "rebuilding"
    await _rebuilt_or_quiet(gateway, scenario.event_id)
    assert await redis_client.exists(ev.meta)


async def test_h1_random_event_ids_grow_no_memory_and_no_logs(gateway, scenario: Scenario,
                                                               redis_client: aioredis.Redis,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    body = scenario.scan(scenario.cards[0][1], f"{scenario.event_id}-desk")
    tag = secrets.token_hex(3)
    cached = len(auth._TOKENS)
    with caplog.at_level(logging.INFO):
        for i in range(300):
            # padded with spaces, as a flood would, to make each remembered header as large as allowed
            header = "Bearer" + " " * 4000 + f"ev{tag}{i}.D{i}.s"
            resp = await gateway.post("/api/v1/scans", json=body, headers={"Authorization": header})
            assert resp.status == 401
    assert len(auth._TOKENS) == cached  # a header this long is parsed, never kept
    assert [r for r in caplog.records if r.name != "aiohttp.access"] == []  # the test server's access log aside
    assert await redis_client.keys(f"*ev{tag}*") == []
    assert not gateway.app[state_key]._rebuilding


# --- L4 and M4: the kiosk PIN check ---------------------------------------------------------------

PIN_CHECK = "/api/v1/device/pin-check"


async def test_l4_revoked_device_does_not_pass_the_pin_check(gateway, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                             redis_client: aioredis.Redis, keys: Keys) -> None:
    async with pg_pool.acquire() as conn:
        await revoke_device(conn, redis_client, keys, scenario.device_token.split(".")[1])
    resp = await gateway.post(PIN_CHECK, json={"pin": "0000"}, headers=_bearer(scenario.device_token))
    assert resp.status == 403
    assert (await resp.json())["error"] == "device_revoked"


async def test_m4_pin_tries_back_off_then_lock_the_device(aiohttp_client, test_config: Config,  # type: ignore[no-untyped-def]
                                                          scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    # Each try from another address (through a trusted proxy): the count is the device's, not the address's.
    config = dataclasses.replace(test_config, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    gateway = await aiohttp_client(create_app(config))
    device_id = scenario.device_token.split(".")[1]
    await pg_pool.execute("UPDATE devices SET pin_hash = $2 WHERE device_id = $1", device_id, hash_pin("2468"))
    statuses = []
    for n in range(20):
        resp = await gateway.post(PIN_CHECK, json={"pin": f"{n:04d}"},
                                  headers={**_bearer(scenario.device_token), "X-Forwarded-For": f"203.0.113.{n}"})
        statuses.append(resp.status)
        if resp.status == 429:
            assert int(resp.headers["Retry-After"]) >= 1
            assert (await resp.json())["error"] == "too_many_pin_tries"
    assert statuses == [403] * (FREE + 1) + [429] * (20 - FREE - 1)
    # Locked, the right PIN is refused too: the answer tells nothing about the PIN.
    resp = await gateway.post(PIN_CHECK, json={"pin": "2468"}, headers=_bearer(scenario.device_token))
    assert resp.status == 429
    # A made-up token naming the device neither passes nor adds to (or is stopped by) the device's count.
    forged = f"{scenario.event_id}.{device_id}.forged"
    resp = await gateway.post(PIN_CHECK, json={"pin": "2468"}, headers=_bearer(forged))
    assert resp.status == 401


# --- L7: links are never built from a raw Host header ---------------------------------------------

async def test_l7_a_foreign_host_header_gets_into_no_link(gateway, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                         redis_client: aioredis.Redis, keys: Keys) -> None:
    office = await make_office(pg_pool, redis_client, keys, scenario)
    evil = {"Host": "evil.example"}
    resp = await gateway.post(f"/api/v1/events/{scenario.event_id}/volunteers/{office.ids[0]}/certificates",
                              headers={**office.coordinator, **evil})
    assert resp.status == 201
    link = URL((await resp.json())["verify_url"])
    assert link.host == "127.0.0.1" and link.port == gateway.port  # the address the connection reached
    resp = await gateway.get("/api/v1/live-config", headers=evil)
    ws = URL((await resp.json())["ws_url"])
    assert ws.host == "127.0.0.1"
    # The gateway's own names still work: a loopback name, as a browser on this machine sends it.
    resp = await gateway.get("/api/v1/live-config", headers={"Host": f"localhost:{gateway.port}"})
    assert URL((await resp.json())["ws_url"]).host == "localhost"


async def test_l7_allowed_hosts_are_used_as_sent(aiohttp_client, test_config: Config, scenario: Scenario,  # type: ignore[no-untyped-def]
                                                 pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                 keys: Keys) -> None:
    config = dataclasses.replace(test_config, allowed_hosts=frozenset({"gate.example.org"}))
    client = await aiohttp_client(create_app(config))
    office = await make_office(pg_pool, redis_client, keys, scenario)
    resp = await client.post(f"/api/v1/events/{scenario.event_id}/volunteers/{office.ids[0]}/certificates",
                             headers={**office.coordinator, "Host": "gate.example.org:8443"})
    assert (await resp.json())["verify_url"].startswith("http://gate.example.org:8443/v/")
    resp = await client.get("/api/v1/live-config", headers={"Host": "GATE.example.org"})
    assert (await resp.json())["ws_url"] == f"ws://gate.example.org:{config.live_port}"
    public = dataclasses.replace(config, public_url="https://checkin.example.org")
    client = await aiohttp_client(create_app(public))
    resp = await client.post(f"/api/v1/events/{scenario.event_id}/volunteers/{office.ids[1]}/certificates",
                             headers={**office.coordinator, "Host": "gate.example.org"})
    assert (await resp.json())["verify_url"].startswith("https://checkin.example.org/v/")


# --- L5: security headers on every response -------------------------------------------------------

async def test_l5_every_response_carries_the_security_headers(gateway, scenario: Scenario) -> None:
    pages = ["/kiosk/gate/", "/kiosk/office/", "/kiosk/coordinator/", "/kiosk/dashboard/",
             "/kiosk/card/", "/v/no-such-certificate"]
    others = ["/kiosk/gate/main.js", "/kiosk/office/office.css", "/healthz", "/api/v1/nothing-here",
              "/kiosk/missing.html", "/kiosk/office.html"]
    for path in pages + others:
        resp = await gateway.get(path)
        assert resp.status < 500, path
        h = resp.headers
        assert h["X-Frame-Options"] == "DENY", path
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "no-referrer", path
        assert h["Server"] == "checkin", path  # no product or version
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, path
    resp = await gateway.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["X-Frame-Options"] == "DENY"


async def test_l5_kiosk_pages_have_no_inline_script_or_style() -> None:
    """The pages' policy has no 'unsafe-inline', so an inline block would silently not run."""
    for page in kiosk_dir().rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<style" not in html, page
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page
        assert not re.search(r"\son[a-z]+\s*=|\sstyle\s*=", html), page


# --- M4 and L6: slow and vanishing clients, on the gateway's real runner -----------------------------

@pytest.fixture
async def real_gateway(test_config: Config, scenario: Scenario) -> AsyncIterator[tuple[int, asyncio.Queue[str]]]:
    """The gateway as `checkin up` runs it (make_runner), with short timeouts so the probes stay quick;
    the queue gets the path of every answer the gateway prepares."""
    config = dataclasses.replace(test_config, header_timeout_s=1, body_timeout_s=1)
    runner = make_runner(config)
    answered: asyncio.Queue[str] = asyncio.Queue()

    async def seen(request: web.Request, response: web.StreamResponse) -> None:
        answered.put_nowait(request.path)

    runner.app.on_response_prepare.append(seen)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield port, answered
    await runner.cleanup()


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection; fails if it is still open after `seconds`."""
    async with asyncio.timeout(seconds):
        return await reader.read()


async def test_m4_a_connection_that_sends_nothing_is_closed(real_gateway) -> None:  # type: ignore[no-untyped-def]
    reader, writer = await asyncio.open_connection("127.0.0.1", real_gateway[0])
    assert await _closed_within(reader, 5) == b""
    writer.close()


async def test_m4_headers_dribbled_slowly_are_cut_off(real_gateway) -> None:  # type: ignore[no-untyped-def]
    reader, writer = await asyncio.open_connection("127.0.0.1", real_gateway[0])
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")

    async def dribble() -> None:
        with contextlib.suppress(ConnectionError):
            for i in range(30):  # a header line every 0.2 s for 6 s: never a complete request
                writer.write(f"X-Slow-{i}: 1\r\n".encode())
                await writer.drain()
                await asyncio.sleep(0.2)

    sender = asyncio.create_task(dribble())
    try:
        assert b"200 OK" not in await _closed_within(reader, 5)
    finally:
        sender.cancel()
        writer.close()


async def test_m4_a_declared_body_that_never_comes_gets_408(real_gateway) -> None:  # type: ignore[no-untyped-def]
    reader, writer = await asyncio.open_connection("127.0.0.1", real_gateway[0])
    writer.write(b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"code\": ")
    answer = await _closed_within(reader, 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b'"error":"request_timeout"' in answer
    # A request sent in good time on a fresh connection is still answered.
    reader, writer = await asyncio.open_connection("127.0.0.1", real_gateway[0])
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await _closed_within(reader, 5)).startswith(b"HTTP/1.1 200")
    writer.close()


def _trickled(port: int, path: str, body: bytes, token: str | None, gaps: int = 3) -> bytes:
    """A POST whose body arrives in `gaps` + 1 parts 0.8 s apart (past the 1 s body deadline): what the gateway
    answered before it closed (a blocking socket: what arrived is kept when the close resets the connection)."""
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n").encode() + auth + b"\r\n"
    step = len(body) // (gaps + 1) + 1
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):  # refused early: the gateway closed while the body was on its way
            sock.sendall(head)
            for start in range(0, len(body), step):
                sock.sendall(body[start:start + step])
                if start + step < len(body):
                    time.sleep(0.8)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


async def test_m4_an_admins_upload_may_arrive_slowly_and_nothing_else(  # type: ignore[no-untyped-def]
        real_gateway, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    """The city's roster is 14.8 MB of base64: 30 s (CHECKIN_BODY_TIMEOUT_S) needs a 4 Mbit/s uplink. Once the
    admin is known an upload has CHECKIN_UPLOAD_TIMEOUT_S; every other body, and every stranger, keep theirs."""
    async with pg_pool.acquire() as conn:
        _, admin = await add_user(conn, "上傳管理員", "admin", None)
    ev = scenario.event_id
    roster = orjson.dumps({"file": b64(roster_csv(secrets.token_hex(3), 50))})
    answer = await asyncio.to_thread(_trickled, real_gateway[0], f"/api/v1/events/{ev}/roster/check", roster, admin)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b'"rows":50' in answer
    other = orjson.dumps({"label": "x" * 2000})
    answer = await asyncio.to_thread(_trickled, real_gateway[0], f"/api/v1/events/{ev}/devices/nobody/rename", other, admin)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    answer = await asyncio.to_thread(_trickled, real_gateway[0], f"/api/v1/events/{ev}/roster/check", roster, None)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]


async def test_l6_an_aborted_upload_is_not_logged_as_a_failure(real_gateway, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    port, answered = real_gateway
    with caplog.at_level(logging.DEBUG):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n" + b"{" * 2000)
        await asyncio.sleep(0.1)  # the handler is reading the body
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # with linger 0: a reset, as a phone losing its network does
        async with asyncio.timeout(5):
            assert await answered.get() == "/api/v1/enroll"  # the handler has finished
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- M4: budgets per client address on the routes anyone may call -------------------------------------

# One concrete path per budgeted route; each answers something other than 429 while within budget.
PUBLIC_PATHS = {
    "/v/{cert_id}": ("get", "/v/no-such-certificate"),
    "/api/v1/certificates/{cert_id}": ("get", "/api/v1/certificates/no-such-certificate"),
    "/api/v1/card": ("get", "/api/v1/card?token=not-a-card-link-token"),
    "/api/v1/enroll": ("post", "/api/v1/enroll"),
    "/api/v1/device/pin-check": ("post", "/api/v1/device/pin-check"),
    "/api/v1/device": ("get", "/api/v1/device"),
    "/api/v1/time": ("get", "/api/v1/time"),
    "/api/v1/live-config": ("get", "/api/v1/live-config"),
    "/api/v1/openapi.json": ("get", "/api/v1/openapi.json"),
    "/healthz": ("get", "/healthz"),
    "/readyz": ("get", "/readyz"),
    "/metrics": ("get", "/metrics"),
    "/api/v1/signin": ("post", "/api/v1/signin"),
    "/api/v1/password": ("post", "/api/v1/password"),
    "/api/v1/session": ("get", "/api/v1/session"),
    "/favicon.ico": ("get", "/favicon.ico"),
    "/api/v1/events": ("get", "/api/v1/events"),
    "/api/v1/events/{event_id}": ("get", "/api/v1/events/no-such-event"),
    "/api/v1/events/{event_id}/open": ("post", "/api/v1/events/no-such-event/open"),
    "/api/v1/events/{event_id}/close": ("post", "/api/v1/events/no-such-event/close"),
    "/api/v1/events/{event_id}/plan": ("get", "/api/v1/events/no-such-event/plan"),
    "/api/v1/events/{event_id}/zones/{row_id}": ("put", "/api/v1/events/no-such-event/zones/z1"),
    "/api/v1/events/{event_id}/gates/{row_id}": ("put", "/api/v1/events/no-such-event/gates/g1"),
    "/api/v1/events/{event_id}/shifts/{row_id}": ("put", "/api/v1/events/no-such-event/shifts/s1"),
}
# Routes that need a token, or that only redirect: not budgeted by address.
WITH_TOKEN_OR_REDIRECT = {"/", "/dashboard", "/api/v1/scans", "/api/v1/scans/batch", "/api/v1/scans/{scan_id}/annul",
                          "/api/v1/device/gate-copy",  # the gate copy: a device token, and a budget per token
                          # a user token or session (each login also has its own waits and lockout)
                          "/api/v1/signout", "/api/v1/people", "/api/v1/people/{user_id}/revoke",
                          "/api/v1/people/{user_id}/reset"}


async def _first_refused(client, route: str, address: str, most: int) -> int | None:  # type: ignore[no-untyped-def]
    """How many requests the address got answered before its first 429 (None: no 429 in `most`)."""
    method, path = PUBLIC_PATHS[route]
    body = {"code": "not-a-real-code-1", "pin": "0000"} if method == "post" else None
    for n in range(most):
        resp = await client.request(method, path, json=body, headers={"X-Forwarded-For": address})
        if resp.status == 429:
            assert (await resp.json())["error"] == "rate_limited"
            assert int(resp.headers["Retry-After"]) >= 1
            return n
    return None


async def test_m4_every_public_route_has_an_address_budget(aiohttp_client, test_config: Config,  # type: ignore[no-untyped-def]
                                                           scenario: Scenario,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The budgets' clock stands still, so the burst is exact however slowly a loaded machine answers
    # (with a running clock, a slow /readyz refilled its bucket as fast as it was spent and never saw a 429).
    monkeypatch.setattr(address_limits, "RateLimiter", functools.partial(RateLimiter, clock=lambda: 0.0))
    config = dataclasses.replace(test_config, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    client = await aiohttp_client(create_app(config))
    assert set(PUBLIC_PATHS) == set(ROUTES)
    for i, (route, kind) in enumerate(ROUTES.items()):
        burst = BUDGETS[kind][1]  # shared by the routes of a kind: a fresh address for each route
        answered = await _first_refused(client, route, f"203.0.113.{i}", most=5 * burst)
        assert answered == burst, route
        # Another client behind the same proxy has its own budget.
        assert await _first_refused(client, route, f"198.51.100.{i}", most=1) is None, route


async def test_m4_a_client_cannot_pick_its_address_without_a_trusted_proxy(gateway) -> None:  # type: ignore[no-untyped-def]
    statuses = []
    for i in range(BUDGETS["guess"][1] + 5):
        resp = await gateway.post("/api/v1/enroll", json={"code": "not-a-real-code-1"},
                                  headers={"X-Forwarded-For": f"198.51.100.{i}"})
        statuses.append(resp.status)
    assert 429 in statuses


def test_m4_each_route_is_budgeted_or_needs_a_token(test_config: Config) -> None:
    """A new route anyone may call must be added to address_limits.ROUTES (or here, when it needs a token)."""
    app = create_app(test_config)
    unbudgeted = set()
    for resource in app.router.resources():
        route = resource.canonical
        if route.startswith(("/kiosk", "/api/v1/events/")) or route in ROUTES or route in WITH_TOKEN_OR_REDIRECT:
            continue
        unbudgeted.add(route)
    assert unbudgeted == set()


async def test_l5_l6_a_request_aiohttp_cannot_parse_gets_no_version_and_no_traceback(  # type: ignore[no-untyped-def]
        real_gateway, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for garbage in (b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", real_gateway[0])
            writer.write(garbage)
            answer = await _closed_within(reader, 5)
            writer.close()
            assert answer.split(b"\r\n")[0].endswith(b"400 Bad Request")
            assert b"Server: checkin\r\n" in answer and b"aiohttp" not in answer
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
