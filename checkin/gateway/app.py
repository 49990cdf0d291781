"""The gateway app factory, its resources' lifecycles, and the process that serves it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from redis.exceptions import RedisError

from checkin.card_store import active_card_texts, valid_public_keys
from checkin.cards import CardVerifier
from checkin.config import Config
from checkin.db import create_pool
from checkin.gateway.batcher import ScriptBatcher
from checkin.gateway.cluster_batcher import ClusterScriptBatcher
from checkin.gateway.errors import error_middleware
from checkin.gateway.routes import setup_routes
from checkin.gateway.state import GatewayState, state_key
from checkin.keys import Keys
from checkin.redis_conn import create_redis, is_cluster
from checkin.scan_script import SCRIPT
from checkin.tls import server_ssl_context

log = logging.getLogger(__name__)
KEY_REFRESH_S = 30  # a new or retired signing key reaches every gateway within this


def kiosk_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "kiosk"


def create_app(config: Config) -> web.Application:
    assert config.postgres_url and config.redis_url, "the gateway needs both URLs"
    app = web.Application(middlewares=[error_middleware], client_max_size=config.max_body_bytes)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(config.postgres_url or "", max_size=4)
        redis = create_redis(config.redis_url or "")
        try:
            with contextlib.suppress(RedisError):  # Redis may be down at start: scans get 503 until it is back
                await redis.script_load(SCRIPT)
            cards = CardVerifier(await valid_public_keys(pool))
            cards.trust(await active_card_texts(pool))
            batcher = ClusterScriptBatcher(redis, SCRIPT) if is_cluster(redis) else ScriptBatcher(redis, SCRIPT)
            app[state_key] = GatewayState(config, Keys(config.redis_prefix), pool, redis, batcher, cards)
            refresher = asyncio.create_task(_refresh_keys(app[state_key]))
            yield
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await batcher.close()
        finally:
            await redis.aclose()
            await pool.close()

    app.cleanup_ctx.append(resources)
    setup_routes(app, kiosk_dir())
    return app


async def _refresh_keys(state: GatewayState) -> None:
    while True:
        await asyncio.sleep(KEY_REFRESH_S)
        try:
            keys = await valid_public_keys(state.pool)
            if keys.keys() != state.cards.public_keys.keys():
                cards = CardVerifier(keys)
                cards.trust(await active_card_texts(state.pool))
                state.cards = cards
        except Exception as exc:  # Postgres down: keep the keys we have, the hot path needs none
            log.warning("could not refresh signing keys: %s", exc)


async def serve(config: Config) -> None:
    """Run one gateway process until SIGINT or SIGTERM. Several may share the port (SO_REUSEPORT)."""
    runner = web.AppRunner(create_app(config), access_log=None, handle_signals=False, shutdown_timeout=3)
    await runner.setup()
    tls = server_ssl_context(config)
    site = web.TCPSite(runner, config.host, config.gateway_port, reuse_port=True, backlog=1024, ssl_context=tls)
    await site.start()
    log.info("gateway listening on %s://%s:%d", "https" if tls else "http", config.host, config.gateway_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
