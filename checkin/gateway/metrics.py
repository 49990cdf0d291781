"""The gateway's Prometheus metrics, its request-id middleware and GET /metrics.

Each gateway process keeps its own registry and answers /metrics with its own figures; several
processes sharing the port (SO_REUSEPORT) are scraped as separate targets or summed by the scraper
(docs/operations.md, "Metrics"). The middleware runs on every request, scans included, so it keeps
the labelled children it has made and does no formatting on a request that succeeds.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from checkin.error_codes import worded_zh
from checkin.gateway.redis.batcher import Batcher
from checkin.observability import METRICS_CONTENT_TYPE, exposition, request_id

log = logging.getLogger(__name__)
REQUEST_ID = "X-Request-Id"
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GatewayMetrics:
    """One registry per app, so tests and benchmarks that build several apps never collide."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("checkin_gateway_requests", "Requests answered, by route and status",
                                ["route", "status"], registry=r)
        self.latency = Histogram("checkin_gateway_request_seconds", "Time from request to answer, by route",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.refusals = Counter("checkin_gateway_rate_limited", "Requests refused with 429, by route",
                                ["route"], registry=r)
        self.scans = Counter("checkin_gateway_scans", "Scans stored by this process, by verdict", ["verdict"],
                             registry=r)
        self.replays = Counter("checkin_gateway_scan_replays", "Scans sent again and answered from the first reply",
                               registry=r)
        self.redis_rtt = Histogram("checkin_gateway_redis_round_trip_seconds",
                                   "Time for one pipeline of scan calls to Redis and back", buckets=_RTT_BUCKETS,
                                   registry=r)
        self.queue_depth = Gauge("checkin_gateway_batcher_queue_depth", "Scan calls waiting for the next pipeline",
                                 registry=r)
        self._counted: dict[tuple[str, int], Any] = {}
        self._timed: dict[str, Any] = {}
        self._verdicts: dict[str, Any] = {}

    def watch_batcher(self, batcher: Batcher) -> None:
        self.queue_depth.set_function(lambda: batcher.queued)
        batcher.on_batch = self.batch

    def batch(self, seconds: float, replies: list[Any]) -> None:
        self.redis_rtt.observe(seconds)
        for reply in replies:
            try:
                if not isinstance(reply, list):
                    continue
                if reply[0] == b"ok":  # the verdict is the first item of the script's answer (scan/script.py)
                    verdict = orjson.loads(reply[1])[0]
                    counter = self._verdicts.get(verdict)
                    if counter is None:
                        counter = self._verdicts[verdict] = self.scans.labels(str(verdict)[:40])
                    counter.inc()
                elif reply[0] == b"replay":
                    self.replays.inc()
            except (IndexError, TypeError, ValueError):  # a garbled reply is the scan handler's to report
                continue

    def answered(self, route: str, status: int, seconds: float) -> None:
        counter = self._counted.get((route, status))
        if counter is None:
            counter = self._counted[(route, status)] = self.requests.labels(route, str(status))
        counter.inc()
        timer = self._timed.get(route)
        if timer is None:
            timer = self._timed[route] = self.latency.labels(route)
        timer.observe(seconds)
        if status == 429:
            self.refusals.labels(route).inc()


metrics_key = web.AppKey("metrics", GatewayMetrics)
_process_tag = os.urandom(4).hex()
_serial = itertools.count(1)


def new_request_id() -> str:
    """Unique across processes (a random tag each) without the cost of a UUID per request."""
    return f"{_process_tag}-{next(_serial):x}"


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"  # not the path: anyone can invent those


def _complete_refusal(response: web.StreamResponse, rid: str) -> None:
    """Error bodies carry the request id, so a kiosk can show it and the log line can be found, and a wording in
    Traditional Chinese (error_codes.WORDS_ZH) where the refusal brought none of its own."""
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return
    body = response.body
    if not isinstance(body, bytes):
        return
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if isinstance(data, dict) and "error" in data:
        data["request_id"] = rid
        if "message_zh" not in data:
            data["message_zh"] = worded_zh(str(data["error"]), data.get("field"))
        response.body = orjson.dumps(data)


def observe(metrics: GatewayMetrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Outermost middleware: the request id, then the route, status and time of the final answer."""

    @web.middleware
    async def observed(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        given = request.headers.get(REQUEST_ID)
        rid = given if given is not None and _GOOD_ID.fullmatch(given) else new_request_id()
        # Reset after: a keep-alive connection serves its next request in the same task and context.
        token = request_id.set(rid)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects and anything the error middleware passed on
            exc.headers[REQUEST_ID] = rid
            metrics.answered(_route(request), exc.status, time.perf_counter() - started)
            raise
        finally:
            request_id.reset(token)
        if not response.prepared:  # one already sent (the 408 for a late body) is past changing
            response.headers[REQUEST_ID] = rid
            if response.status >= 400:
                _complete_refusal(response, rid)
        metrics.answered(_route(request), response.status, time.perf_counter() - started)
        return response

    return observed


async def metrics_page(request: web.Request) -> web.Response:
    return web.Response(body=exposition(request.app[metrics_key].registry),
                        headers={"Content-Type": METRICS_CONTENT_TYPE})
