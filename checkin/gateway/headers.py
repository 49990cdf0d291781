"""Security headers on every response the gateway prepares, whatever route or file it comes from.

Pages get a Content-Security-Policy without 'unsafe-inline': the kiosk pages load their scripts and styles
from files; 'wasm-unsafe-eval' lets the vendored QR decoder compile its WebAssembly; connect-src names the
live server, which listens on its own port. A response that sets its own policy (the certificate
verification page, whose style is allowed by its hash) keeps it. API answers get a policy that allows nothing.
"""

from __future__ import annotations

from aiohttp import web, web_response

from checkin.gateway.links import websocket_url
from checkin.gateway.state import state_key

CSP = "Content-Security-Policy"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
_PAGE_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
                "connect-src 'self' {live}; worker-src 'self'; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'none'")
_ALWAYS = {
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Server": "checkin",  # no version to look up in a list of known flaws
}


def page_policy(request: web.Request) -> str:
    return _PAGE_POLICY.format(live=websocket_url(request, request.app[state_key].config.live_port))


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.update(_ALWAYS)
    if CSP not in headers:
        is_api = response.content_type == "application/json"
        headers[CSP] = API_POLICY if is_api else page_policy(request)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
    # The 400 aiohttp sends for a request it cannot parse never reaches the app or its signals; it takes
    # its Server header from this module constant, so that one has no version either.
    web_response.SERVER_SOFTWARE = _ALWAYS["Server"]  # type: ignore[attr-defined]
