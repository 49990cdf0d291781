"""What the gateway's metrics and request-id middleware adds to one request, in CPU µs.

Calls the middleware directly around a handler that does nothing, so the figure is the middleware's own
(the HTTP parse and send around it, ≈125 µs here, are the same with or without it).
Run: python -m loadtest.metrics_cost [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from checkin.gateway.metrics import GatewayMetrics, observe


async def _nothing(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"{}", content_type="application/json")


async def _per_call(n: int, wrapped: bool) -> float:
    app = web.Application()
    app.router.add_post("/api/v1/scans", _nothing)
    request = make_mocked_request("POST", "/api/v1/scans", app=app, headers={"X-Request-Id": "bench-1"})
    request._match_info = await app.router.resolve(request)  # noqa: SLF001 - what the server does before middlewares
    middleware = observe(GatewayMetrics())
    started = time.process_time()
    for _ in range(n):
        if wrapped:
            await middleware(request, _nothing)
        else:
            await _nothing(request)
    return (time.process_time() - started) / n * 1e6


def _per_scan(n: int) -> float:
    """Counting verdicts and timing the round trip, once a pipeline of 500 replies."""
    metrics = GatewayMetrics()
    answer = b'["checked_in","","","v-000123","\xe5\xbf\x97\xe5\xb7\xa5","team",-1,12,1700000000000]'
    replies = [[b"ok", answer, 7]] * 500
    started = time.process_time()
    for _ in range(max(1, n // 500)):
        metrics.batch(0.001, replies)
    return (time.process_time() - started) / (max(1, n // 500) * 500) * 1e6


async def main(n: int) -> None:
    runs = [(await _per_call(n, True)) - (await _per_call(n, False)) for _ in range(5)]
    print(f"metrics middleware: median {statistics.median(runs):.2f} µs a request "
          f"(5 runs of {n}: {', '.join(f'{r:.2f}' for r in runs)})")
    scans = [_per_scan(n) for _ in range(5)]
    print(f"scans by verdict: median {statistics.median(scans):.2f} µs a scan")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
