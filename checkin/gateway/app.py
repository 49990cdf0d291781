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

from checkin.cards.format import CardVerifier
from checkin.cards.key_ring import KEY_REFRESH_S
from checkin.cards.store import active_card_texts, valid_public_keys
from checkin.config import Config
from checkin.db import create_pool
from checkin.gateway import headers
from checkin.gateway.address_limits import address_limits
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.audit import audit_session_changes
from checkin.gateway.errors import error_middleware, quiet_malformed_requests
from checkin.gateway.inputs import input_guard
from checkin.gateway.metrics import GatewayMetrics, metrics_key, metrics_page, observe
from checkin.gateway.outages import watch
from checkin.gateway.redis.batcher import ScriptBatcher
from checkin.gateway.redis.cluster import ClusterScriptBatcher
from checkin.gateway.routes import setup_routes
from checkin.gateway.slow_clients import body_deadline
from checkin.gateway.state import GatewayState, state_key
from checkin.gateway.uploads import upload_allowance
from checkin.keys import Keys
from checkin.redis_conn import create_redis, is_cluster
from checkin.scan.script import SCRIPT
from checkin.tls import server_ssl_context

log = logging.getLogger(__name__)


def kiosk_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "kiosk"


def create_app(config: Config) -> web.Application:
    assert config.postgres_url and config.redis_url, "the gateway needs both URLs"
    metrics = GatewayMetrics()
    app = web.Application(middlewares=[observe(metrics), audit_session_changes, error_middleware, address_limits(config),
                                       upload_allowance(config), body_deadline(config), input_guard],
                          client_max_size=config.max_body_bytes)
    app[metrics_key] = metrics

    async def resources(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(config.postgres_url or "", max_size=4)
        redis = create_redis(config.redis_url or "")
        try:
            with contextlib.suppress(RedisError):  # Redis may be down at start: scans get 503 until it is back
                await redis.script_load(SCRIPT)
            cards = CardVerifier(await valid_public_keys(pool))
            cards.trust(await active_card_texts(pool))
            batcher = ClusterScriptBatcher(redis, SCRIPT) if is_cluster(redis) else ScriptBatcher(redis, SCRIPT)
            metrics.watch_batcher(batcher)
            app[state_key] = GatewayState(config, Keys(config.redis_prefix), pool, redis, batcher, cards)
            tasks = [asyncio.create_task(_refresh_keys(app[state_key])), asyncio.create_task(_watch(app[state_key]))]
            yield
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=5)  # a task stuck in a dead server's query must not hold the stop
            await batcher.close()
        finally:
            await redis.aclose()
            try:  # a connection stuck in a query a cancelled task left must not hold the shutdown
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                pool.terminate()

    app.cleanup_ctx.append(resources)
    headers.setup(app)
    quiet_malformed_requests()
    setup_routes(app, kiosk_dir())
    route(app, "GET", "/metrics", metrics_page,
          Doc("Prometheus metrics of this gateway process (text exposition format)", media="text/plain"))
    return app


async def _watch(state: GatewayState) -> None:
    await watch(state.redis, state.pool, state.keys, state.redis_outage, state.postgres_outage)


async def _refresh_keys(state: GatewayState) -> None:
    failing = False
    while True:
        await asyncio.sleep(KEY_REFRESH_S)
        try:
            await state.refresh_keys()
            failing = False
        except Exception as exc:  # Postgres down: keep the keys we have, the hot path needs none
            if not failing:  # once an outage (the watch logs the outage itself), not every KEY_REFRESH_S
                log.warning("could not refresh signing keys: %s", exc)
            failing = True


def make_runner(config: Config) -> web.AppRunner:
    """The gateway app with its connection settings, not yet set up."""
    # aiohttp's keep-alive timer also runs while a request's headers are arriving: it is the header timeout.
    return web.AppRunner(create_app(config), access_log=None, handle_signals=False, shutdown_timeout=3,
                         keepalive_timeout=float(config.header_timeout_s))


async def serve(config: Config) -> None:
    """Run one gateway process until SIGINT or SIGTERM. Several may share the port (SO_REUSEPORT)."""
    runner = make_runner(config)
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
