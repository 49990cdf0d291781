"""GET /healthz (the process is up) and GET /readyz (Postgres and Redis answer; under `checkin up`, the
embedded servers' states and restarts)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from checkin.gateway.api_doc import Doc, route
from checkin.gateway.errors import json_response
from checkin.gateway.models.health import Health, Ready
from checkin.gateway.state import state_key
from checkin.runtime import embedded_states


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[state_key]
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            await state.pool.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["postgres"] = f"unreachable: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not_ready", **checks}
    if embedded := embedded_states(state.config):  # under `checkin up`: each server's state and restarts
        body["embedded"] = embedded
    return json_response(body, 200 if ready else 503)


def setup(app: web.Application) -> None:
    route(app, "GET", "/healthz", healthz, Doc("The process is up", answer=Health))
    route(app, "GET", "/readyz", readyz, Doc("Postgres and Redis answer (503 with the same body when not)",
                                             answer=Ready, also=(503,)))
