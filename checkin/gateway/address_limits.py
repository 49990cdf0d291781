"""Request budgets per client address on the routes anyone may call without a token.

Each call to these costs a Postgres lookup or is a guess at a secret (a certificate number, a card link,
an enrollment code, a PIN), so one address may make only so many. Scans are budgeted per device token
instead (scans.py), and the kiosk's static files are not budgeted. Behind a proxy listed in
CHECKIN_TRUSTED_PROXIES the client's address is the last one in X-Forwarded-For that is not a proxy.
Kept per gateway process, like the scan budgets.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from checkin.certificates.content import VERIFY_PATH
from checkin.config import Config
from checkin.gateway.errors import ApiError
from checkin.gateway.rate_limit import RateLimiter

# (requests per second, burst) per address
BUDGETS = {
    "lookup": (5.0, 30),  # a person opens a card or checks a certificate now and then
    "guess": (1.0, 10),  # every call tries a secret: an enrollment code, a PIN
    "poll": (200.0, 600),  # kiosks poll these every few seconds; a whole site may share one address (NAT)
    # The office console's setup routes need an admin token, but each call reads or writes a whole event plan:
    # a clerk makes a few a minute, a script looping on them is held to this.
    "console": (10.0, 60),
}
ROUTES = {
    VERIFY_PATH + "{cert_id}": "lookup",
    "/api/v1/certificates/{cert_id}": "lookup",
    "/api/v1/card": "lookup",
    "/api/v1/enroll": "guess",
    "/api/v1/device/pin-check": "guess",
    "/api/v1/device": "poll",
    "/api/v1/time": "poll",
    "/api/v1/live-config": "poll",
    "/api/v1/openapi.json": "poll",
    "/healthz": "poll",
    "/readyz": "poll",
    "/metrics": "poll",  # a scraper every few seconds; the text is built from memory
    "/favicon.ico": "poll",  # every page asks once; a small file from disk
    "/api/v1/events": "console",
    "/api/v1/events/{event_id}": "console",
    "/api/v1/events/{event_id}/open": "console",
    "/api/v1/events/{event_id}/close": "console",
    "/api/v1/events/{event_id}/plan": "console",
    "/api/v1/events/{event_id}/zones/{row_id}": "console",
    "/api/v1/events/{event_id}/gates/{row_id}": "console",
    "/api/v1/events/{event_id}/shifts/{row_id}": "console",
    "/api/v1/signin": "guess",  # a password guess (each login also waits and locks on its own: staff_sessions)
    "/api/v1/password": "guess",  # a guess at a one-time link's code
    "/api/v1/session": "lookup",  # a page asks who is signed in when it opens
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    peer = request.remote or ""
    if not trusted or not _within(peer, trusted):
        return peer  # X-Forwarded-For from anyone else is the client's own claim
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", []) for hop in value.split(",")]
    for hop in reversed(hops):
        if hop and not _within(hop, trusted):
            return hop
    return peer


def route_of(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def address_limits(config: Config) -> Callable[..., Awaitable[web.StreamResponse]]:
    limiters = {kind: RateLimiter(rate, burst) for kind, (rate, burst) in BUDGETS.items()}
    trusted = config.trusted_proxies

    @web.middleware
    async def within_budget(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        kind = ROUTES.get(route_of(request) or "")
        if kind is not None:
            wait = limiters[kind].retry_after(client_address(request, trusted))
            if wait:
                raise ApiError(429, "rate_limited", "too many requests from this address; slow down",
                               headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return await handler(request)

    return within_budget
