"""The few bodies allowed to be larger than CHECKIN_MAX_BODY_BYTES: an admin's roster or assignment file, up to
CHECKIN_MAX_UPLOAD_BYTES, and slower than CHECKIN_BODY_TIMEOUT_S: within CHECKIN_UPLOAD_TIMEOUT_S. The route's own
check (the admin behind the request) runs before a byte of the body is read, so nobody else can make the gateway
take more, or wait longer, than the ordinary limits."""

from __future__ import annotations

import ctypes
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from aiohttp import web

from checkin.config import Config
from checkin.gateway.api_error import ApiError
from checkin.gateway.slow_clients import DEADLINE_KEY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)
T = TypeVar("T")
_CHECK = "upload_check"
_PASSED = web.RequestKey("upload_check_passed", object)  # what the route's check gave


def takes_upload(check: Callable[[web.Request], Awaitable[object]]) -> Callable[[H], H]:
    """Marks a handler whose body may be a large file once `check` (which raises to refuse) has passed."""
    def mark(handler: H) -> H:
        setattr(handler, _CHECK, check)
        return handler
    return mark


async def checked(request: web.Request, check: Callable[[web.Request], Awaitable[T]]) -> T:
    """What the route's upload check gave (the middleware ran it before the body was read), else run it now."""
    if _PASSED in request:
        return cast("T", request[_PASSED])
    return await check(request)


def upload_allowance(config: Config) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def allow_uploads(request: web.Request, handler: Handler) -> web.StreamResponse:
        check = getattr(request.match_info.handler, _CHECK, None)
        if check is None:
            return await handler(request)
        request[_PASSED] = await check(request)  # the clone below copies it: the handler does not ask again
        request[DEADLINE_KEY] = config.upload_timeout_s  # megabytes on an office's slow uplink, not a slow loris
        limit = max(config.max_upload_bytes, request.client_max_size)
        try:
            return await handler(request.clone(client_max_size=limit))
        except web.HTTPRequestEntityTooLarge:
            raise too_large_file(limit) from None
        finally:
            give_back_memory()

    return allow_uploads


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back this way
        return None


_TRIM = _malloc_trim()


def give_back_memory() -> None:
    """Hand the heap an upload freed back to the system: glibc keeps it otherwise. After the city's roster a
    gateway kept 224 MB, with this 179 MB (loadtest/bench_roster_upload.py; 1-3 ms a call)."""
    if _TRIM is not None:
        _TRIM(0)


def file_size_words(limit: int) -> str:
    """About how large a file fits in `limit` bytes of body: the file travels as base64 (4 bytes for 3)."""
    size = limit * 3 // 4
    return f"{size // 1_000_000} MB" if size >= 1_000_000 else f"{size // 1000} KB"


def too_large_file(limit: int) -> ApiError:
    """The refusal names the limit this gateway was set to, so the console says it as it is."""
    about = file_size_words(limit)
    return ApiError(413, "body_too_large", f"the file is too large: about {about} at most "
                    f"(CHECKIN_MAX_UPLOAD_BYTES, {limit:,} bytes of base64)",
                    extra={"message_zh": f"檔案太大：上限約 {about}"})
