"""URL map of the gateway."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from checkin.gateway import coordinator, health, scans


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/kiosk/")


def setup_routes(app: web.Application, kiosk: Path) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_post("/api/v1/scans", scans.post_scan)
    app.router.add_post("/api/v1/scans/batch", scans.post_batch)
    app.router.add_get("/api/v1/events/{event_id}/headcount", coordinator.get_headcount)
    if kiosk.is_dir():
        app.router.add_get("/", _home)
        app.router.add_static("/kiosk/", kiosk, append_version=False)
