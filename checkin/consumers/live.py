"""The live server (`checkin live`): coordinators' websockets, one shared stream reader per event.

Connect to ws://HOST:PORT/ws/events/{event_id}?token=COORDINATOR_TOKEN[&zone=ZONE][&team=TEAM];
the first message is a snapshot, then deltas (at most five a second) and a beat when quiet.
Stateless: every process builds its picture from Redis, so run as many as you like.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import signal
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlsplit

import asyncpg
import orjson
import redis.asyncio as aioredis
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from checkin.access.accounts import User, user_for_token
from checkin.access.staff_sessions import SESSION_COOKIE, staff_for_session
from checkin.config import Config
from checkin.consumers.live_hub import EventHub, Subscriber
from checkin.consumers.live_metrics import LiveMetrics
from checkin.db import create_pool
from checkin.error_codes import worded_zh
from checkin.keys import EVENT_ID_RE, Keys
from checkin.live.view import Scope
from checkin.observability import METRICS_CONTENT_TYPE, exposition
from checkin.redis_conn import create_redis

log = logging.getLogger(__name__)
PREFIX = "/ws/events/"
METRICS_PATH = "/metrics"
KEEPALIVE_S = 10  # ping every 10 s; no pong within 10 s closes a dead connection


def _refuse(status: http.HTTPStatus, code: str, message: str) -> Response:
    body = orjson.dumps({"error": code, "message": message, "field": None, "message_zh": worded_zh(code)})
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


def _metrics_page(metrics: LiveMetrics) -> Response:
    body = exposition(metrics.registry)
    headers = Headers([("Content-Type", METRICS_CONTENT_TYPE), ("Content-Length", str(len(body)))])
    return Response(http.HTTPStatus.OK.value, http.HTTPStatus.OK.phrase, headers, body)


def _scope(query: dict[str, list[str]]) -> Scope:
    zone = query.get("zone", [""])[0][:64] or None
    team = query.get("team", [""])[0][:200] or None
    return Scope(zone, team)


class LiveServer:
    def __init__(self, config: Config, pool: asyncpg.Pool, redis: aioredis.Redis) -> None:
        self.config = config
        self.pool = pool
        self.redis = redis
        self.keys = Keys(config.redis_prefix)
        self.hubs: dict[str, EventHub] = {}
        self._hub_lock = asyncio.Lock()
        self.metrics = LiveMetrics(lambda: self.hubs)

    async def authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path == METRICS_PATH:  # plain HTTP on the same port, answered before any upgrade
            return _metrics_page(self.metrics)
        if not parts.path.startswith(PREFIX):
            return _refuse(http.HTTPStatus.NOT_FOUND, "not_found", f"connect to {PREFIX}<event_id>?token=...")
        event_id = parts.path[len(PREFIX):]
        if not EVENT_ID_RE.match(event_id):
            return _refuse(http.HTTPStatus.NOT_FOUND, "not_found", "no such event")
        token = parse_qs(parts.query).get("token", [""])[0]
        try:
            user = await user_for_token(self.pool, token) if token else await self._session_user(request)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("token check failed: %s", exc)
            return _refuse(http.HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "accounts cannot be checked now")
        if user is None:
            return _refuse(http.HTTPStatus.UNAUTHORIZED, "unauthorized", "a coordinator token is required")
        if not user.may_watch(event_id):
            return _refuse(http.HTTPStatus.FORBIDDEN, "forbidden", "this account may not see that event")
        try:
            await self.hub(event_id)
        except LookupError:
            return _refuse(http.HTTPStatus.NOT_FOUND, "not_found", "no such event")
        return None

    async def _session_user(self, request: Request) -> User | None:
        """A staff page signed in with a password: its session cookie, read like the gateway reads it (the
        browser sends it to this port too; SameSite=Strict keeps other sites' pages from opening one)."""
        cookies = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookies.load(request.headers.get("Cookie", ""))
        morsel = cookies.get(SESSION_COOKIE)
        staff = await staff_for_session(self.pool, morsel.value if morsel else None,
                                        idle_s=self.config.session_idle_s, max_s=self.config.session_max_s)
        return User(staff.user_id, staff.name, staff.role, staff.event_id) if staff else None

    async def hub(self, event_id: str) -> EventHub:
        async with self._hub_lock:
            hub = self.hubs.get(event_id)
            if hub is None:
                hub = EventHub(self.redis, self.pool, self.keys.event(event_id))
                hub.on_sent = self.metrics.sent
                await hub.start()
                self.hubs[event_id] = hub
            return hub

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        parts = urlsplit(connection.request.path)
        hub = await self.hub(parts.path[len(PREFIX):])
        # Nothing is expected from the client, but reading keeps pongs and the close handshake flowing.
        closed = asyncio.create_task(_discard_incoming(connection))
        sub = hub.subscribe(_scope(parse_qs(parts.query)), on_drop=lambda: _abort(connection))
        try:
            await _pump(connection, sub, closed)
        finally:
            closed.cancel()
            hub.unsubscribe(sub)

    async def close(self) -> None:
        for hub in self.hubs.values():
            await hub.stop()


async def _discard_incoming(connection: ServerConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in connection:
            pass


async def _pump(connection: ServerConnection, sub: Subscriber, closed: asyncio.Task[None]) -> None:
    while not sub.dropped:
        message = asyncio.ensure_future(sub.next())
        await asyncio.wait({message, closed}, return_when=asyncio.FIRST_COMPLETED)
        if closed.done():
            message.cancel()
            return
        try:
            await connection.send(message.result(), text=True)  # JSON bytes as a text frame, no re-encoding
        except Exception:  # the client went away mid-send
            return


def _abort(connection: ServerConnection) -> None:
    """A client stalled for seconds: cut it off (no closing handshake it would not read anyway)."""
    log.info("dropping a stalled live client %s", connection.remote_address)
    transport = getattr(connection, "transport", None)
    if transport is not None:
        transport.abort()


def serve_live(live: LiveServer, host: str, port: int) -> Server:
    return serve(live.handle, host, port, process_request=live.authorize, compression=None,
                 ping_interval=KEEPALIVE_S, ping_timeout=KEEPALIVE_S, max_size=4096, max_queue=4)


async def main(config: Config) -> None:
    pool = await create_pool(config.postgres_url or "", max_size=4)
    redis = create_redis(config.redis_url or "")
    live = LiveServer(config, pool, redis)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serve_live(live, config.host, config.live_port):
            log.info("live server on ws://%s:%d%s<event_id>, metrics on http://%s:%d%s", config.host,
                     config.live_port, PREFIX, config.host, config.live_port, METRICS_PATH)
            await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await live.close()
        await redis.aclose()
        await pool.close()
