"""Addresses the gateway hands out (a certificate's QR link, the dashboard's websocket): never a raw Host header.

The request's Host is used only when it names this gateway: a host in CHECKIN_ALLOWED_HOSTS, a loopback
name, or the very address the client's connection reached. A certificate's link is CHECKIN_PUBLIC_URL when
set (it outlives the request); anything else falls back to the address the client's connection reached,
which the client has just shown it can reach.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

from checkin.gateway.state import state_key

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _reached(request: web.Request) -> tuple[str, int] | None:
    """The local address and port this request's connection came in on."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sock, tuple) and len(sock) >= 2:
        return str(sock[0]), int(sock[1])
    return None


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _own_host(request: web.Request) -> tuple[str, int | None] | None:
    """The request's Host (and the port it named, if any) when it names this gateway, else None."""
    config = request.app[state_key].config
    try:
        url = request.url
        host, port = (url.host or "").lower(), url.explicit_port
    except ValueError:  # a Host header yarl cannot read
        return None
    reached = _reached(request)
    if host and (host in config.allowed_hosts or host in _LOOPBACK or (reached and _same_ip(host, reached[0]))):
        return host, port
    return None


def base_url(request: web.Request) -> str:
    """Scheme, host and port for links into this gateway, e.g. https://checkin.example.org."""
    config = request.app[state_key].config
    if config.public_url:
        return config.public_url
    own = _own_host(request) or _reached(request) or ("localhost", config.gateway_port)
    host, port = own
    return f"{request.scheme}://{_bracketed(host)}" + (f":{port}" if port else "")


def websocket_url(request: web.Request, port: int) -> str:
    """The live server on the host the page came from when that is this gateway, else on the public host."""
    config = request.app[state_key].config
    scheme = "wss" if request.scheme == "https" else "ws"
    own = _own_host(request)
    if own is None and config.public_url:
        public = urlsplit(config.public_url)
        own = (public.hostname or "localhost", None)
        scheme = "wss" if public.scheme == "https" else "ws"
    host = own[0] if own else (_reached(request) or ("localhost", 0))[0]
    return f"{scheme}://{_bracketed(host)}:{port}"
