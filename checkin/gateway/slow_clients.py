"""Bounds on how long a client may hold a connection without finishing its request.

Headers: aiohttp closes a connection whose request has not fully arrived within its keep-alive timeout
(counted from the connection's start or the last answer), so app.make_runner sets that timeout to
CHECKIN_HEADER_TIMEOUT_S.
Body: a body that has not fully arrived when its handler starts is read here under a deadline; past it the
client gets 408 and the connection is closed. A scan's small body arrives with its headers and skips this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from checkin.config import Config
from checkin.gateway.errors import json_response

# A request whose sender is known (an admin's upload, gateway/uploads.py) may carry a longer deadline here.
DEADLINE_KEY = web.RequestKey("body_deadline_s", int)


def body_deadline(config: Config) -> Callable[..., Awaitable[web.StreamResponse]]:
    default = float(config.body_timeout_s)

    @web.middleware
    async def read_body_in_time(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        limit = float(request.get(DEADLINE_KEY, default))
        if request.body_exists and not request.content.is_eof():
            try:
                async with asyncio.timeout(limit):
                    await request.read()  # kept by aiohttp: the handler's own read() returns it at once
            except TimeoutError:
                resp = json_response({"error": "request_timeout", "field": None,
                                      "message": f"the request body did not arrive within {limit:g} s"}, 408)
                resp.force_close()
                await resp.prepare(request)
                await resp.write_eof()
                # Close now (the answer is flushed first): aiohttp would otherwise wait 10 s more for the body.
                request.protocol.force_close()
                return resp
        return await handler(request)

    return read_body_in_time
