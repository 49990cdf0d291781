"""The browser pages under /kiosk/: one folder per page, and the addresses they had before the folders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from checkin.gateway.api_doc import Doc, page, route

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Each page is served at /kiosk/<folder>/ from the folder's index.html (the static route lists no folders).
PAGES = ("gate", "dashboard", "office", "coordinator", "card", "console", "team")

# Addresses in use before the folders: enrolled gates, bookmarks, printed banners and card links already
# sent. Redirected with their query; the browser keeps the #fragment (token, enrollment code) itself.
MOVED = {
    "/": "/kiosk/gate/",
    "/kiosk/": "/kiosk/gate/",
    "/kiosk/index.html": "/kiosk/gate/",
    "/kiosk/dashboard.html": "/kiosk/dashboard/",
    "/kiosk/office.html": "/kiosk/office/",
    "/kiosk/coordinator.html": "/kiosk/coordinator/",
    "/kiosk/card.html": "/kiosk/card/",
} | {f"/kiosk/{page}": f"/kiosk/{page}/" for page in PAGES}


def _redirect(target: str) -> Handler:
    # 302, not 301: a browser would keep a 301 for good, and a later move could not take it back.
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{target}?{request.query_string}" if request.query_string else target)

    return handler


def _index(page: Path) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(page, headers={"Cache-Control": "no-cache"})

    return handler


def _favicon(icon: Path) -> Handler:
    # Browsers ask /favicon.ico of every page by themselves; a day's cache keeps them from asking each time.
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(icon, headers={"Content-Type": "image/x-icon", "Cache-Control": "max-age=86400"})

    return handler


def setup(app: web.Application, kiosk: Path) -> None:
    route(app, "GET", "/favicon.ico", _favicon(kiosk / "favicon.ico"),
          Doc("The pages' icon", media="image/x-icon"))
    for old, new in MOVED.items():
        page(app, old, _redirect(new))
    for folder in PAGES:
        page(app, f"/kiosk/{folder}/", _index(kiosk / folder / "index.html"))
    app.router.add_static("/kiosk/", kiosk, append_version=False)
