"""API errors as JSON: {"error": code, "message": ..., "field": ...}, never a stack trace.

The one place a refusal becomes an HTTP answer: ApiError (the gateway's own), the domain's typed errors
(checkin.errors, by their kind), aiohttp's HTTP exceptions, and whatever else (a 500 with no trace). The codes
are listed in docs/api.md ("Errors")."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from checkin.errors import DomainError
from checkin.gateway.api_error import ApiError, unavailable

__all__ = ["ApiError", "unavailable"]  # the refusals themselves live apart from HTTP (api_error.py)

log = logging.getLogger(__name__)


class MalformedRequestFilter(logging.Filter):
    """Drops aiohttp's traceback for a request it could not parse: that is the client's garbage (answered
    400 by aiohttp), not the gateway failing, and anyone can send it as often as they like."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError)


def quiet_malformed_requests() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestFilter) for f in server_log.filters):
        server_log.addFilter(MalformedRequestFilter())


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        headers=headers)


@asynccontextmanager
async def postgres_guard() -> AsyncIterator[None]:
    """Postgres down answers 503 (retry later), never 500; input Postgres refuses answers 400 (retrying won't help)."""
    try:
        yield
    except asyncpg.DataError:
        raise ApiError(400, "invalid_input", "the database refused a value of this request") from None
    # InternalClientError: the connection died mid-query (a killed postmaster), leaving asyncpg out of step.
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError):
        raise ApiError(503, "unavailable", "the database is unreachable; retry shortly",
                       headers={"Retry-After": "5"}) from None


_DOMAIN_STATUS = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409, "gone": 410}

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type", 429: "rate_limited",
}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return json_response(err.body(), err.status, err.headers)
    except DomainError as err:
        worded = {"message_zh": err.zh} if err.zh else {}  # else the code's own (metrics.py adds it)
        return json_response({"error": err.code, "message": err.message, "field": err.field, **worded},
                             _DOMAIN_STATUS.get(err.kind, 400))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason if exc.status != 413 else \
            f"request body is too large: {request.client_max_size:,} bytes at most (CHECKIN_MAX_BODY_BYTES)"
        return json_response({"error": code, "message": message, "field": None}, exc.status)
    except Exception as exc:
        if isinstance(exc, ConnectionResetError) and (request.transport is None or request.transport.is_closing()):
            # The client reset the connection mid-upload: nobody is left to answer, and it is not our failure.
            log.debug("client left during %s %s", request.method, request.path)
            return json_response({"error": "connection_lost", "message": "the client closed the connection",
                                  "field": None}, 400)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response(
            {"error": "internal_error", "message": "the gateway failed; the scan was not stored", "field": None},
            500,
        )
