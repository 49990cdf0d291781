"""The live server (`checkin live`): coordinators' websockets, one shared stream reader per event.

Connect to ws://HOST:PORT/ws/events/{event_id}?token=COORDINATOR_TOKEN; the first message is a
snapshot, then deltas (at most five a second). Stateless: run as many as you like.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import signal
from urllib.parse import parse_qs, urlsplit

import asyncpg
import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from checkin.accounts import user_for_token
from checkin.config import Config
from checkin.consumers.live_hub import EventHub
from checkin.db import create_pool
from checkin.keys import EVENT_ID_RE, Keys
from checkin.redis_conn import create_redis

log = logging.getLogger(__name__)
PREFIX = "/ws/events/"


def _refuse(status: http.HTTPStatus, code: str, message: str) -> Response:
    import orjson

    body = orjson.dumps({"error": code, "message": message, "field": None})
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


class LiveServer:
    def __init__(self, config: Config, pool: asyncpg.Pool, redis: aioredis.Redis) -> None:
        self.config = config
        self.pool = pool
        self.redis = redis
        self.keys = Keys(config.redis_prefix)
        self.hubs: dict[str, EventHub] = {}
        self._hub_lock = asyncio.Lock()

    async def authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if not parts.path.startswith(PREFIX):
            return _refuse(http.HTTPStatus.NOT_FOUND, "not_found", f"connect to {PREFIX}<event_id>?token=...")
        event_id = parts.path[len(PREFIX):]
        if not EVENT_ID_RE.match(event_id):
            return _refuse(http.HTTPStatus.NOT_FOUND, "not_found", "no such event")
        token = parse_qs(parts.query).get("token", [""])[0]
        user = await user_for_token(self.pool, token)
        if user is None:
            return _refuse(http.HTTPStatus.UNAUTHORIZED, "unauthorized", "a coordinator token is required")
        if not user.may_watch(event_id):
            return _refuse(http.HTTPStatus.FORBIDDEN, "forbidden", "this account may not see that event")
        return None

    async def hub(self, event_id: str) -> EventHub:
        async with self._hub_lock:
            hub = self.hubs.get(event_id)
            if hub is None:
                hub = EventHub(self.redis, self.keys.event(event_id))
                await hub.start()
                self.hubs[event_id] = hub
            return hub

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        event_id = urlsplit(connection.request.path).path[len(PREFIX):]
        hub = await self.hub(event_id)
        sub = hub.subscribe()
        closed = asyncio.ensure_future(connection.wait_closed())
        try:
            while True:
                message = asyncio.ensure_future(sub.queue.get())
                await asyncio.wait({message, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed.done():
                    message.cancel()
                    break
                await connection.send(message.result().decode())
        except Exception:  # the client went away mid-send; nothing to clean but the subscription
            pass
        finally:
            closed.cancel()
            hub.unsubscribe(sub)

    async def close(self) -> None:
        for hub in self.hubs.values():
            await hub.stop()


async def main(config: Config) -> None:
    pool = await create_pool(config.postgres_url or "", max_size=4)
    redis = create_redis(config.redis_url or "")
    live = LiveServer(config, pool, redis)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serve(live.handle, config.host, config.live_port, process_request=live.authorize,
                         ping_interval=20, ping_timeout=20, max_size=4096):
            log.info("live server on ws://%s:%d%s<event_id>", config.host, config.live_port, PREFIX)
            await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await live.close()
        await redis.aclose()
        await pool.close()
