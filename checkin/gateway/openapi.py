"""GET /api/v1/openapi.json: the hand-written description of the API (docs/api.md is its prose twin)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web


@cache
def spec_bytes() -> bytes:
    return (resources.files("checkin.gateway") / "openapi.json").read_bytes()


async def get_openapi(request: web.Request) -> web.Response:
    return web.Response(body=spec_bytes(), content_type="application/json")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", get_openapi)
