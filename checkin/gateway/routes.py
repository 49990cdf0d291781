"""URL map of the gateway."""

from __future__ import annotations

import importlib
from pathlib import Path

from aiohttp import web

from checkin.gateway import coordinator, health, scans


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/kiosk/")


# Route groups added by their own modules: each has setup(app: web.Application) -> None.
ROUTE_MODULES = [
    "checkin.gateway.coordinator",
    "checkin.gateway.enroll",
    "checkin.gateway.openapi",
    "checkin.gateway.office",
    "checkin.gateway.operations",
    "checkin.gateway.card_link",
    "checkin.gateway.certificates",
]


def setup_routes(app: web.Application, kiosk: Path) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_post("/api/v1/scans", scans.post_scan)
    app.router.add_post("/api/v1/scans/batch", scans.post_batch)
    app.router.add_get("/api/v1/events/{event_id}/headcount", coordinator.get_headcount)
    for name in ROUTE_MODULES:
        importlib.import_module(name).setup(app)
    if kiosk.is_dir():
        app.router.add_get("/", _home)
        index = kiosk / "index.html"  # the static route lists no folders; /kiosk/ is the kiosk page itself

        async def _kiosk_index(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

        app.router.add_get("/kiosk/", _kiosk_index)
        app.router.add_static("/kiosk/", kiosk, append_version=False)
