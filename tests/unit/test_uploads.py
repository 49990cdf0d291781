"""Uploads (gateway/uploads.py): the route's check runs once, before the body is read, and a file over the limit
is refused in words that name the file size the limit allows (base64: 3 bytes of file in 4 of body), whatever
CHECKIN_MAX_UPLOAD_BYTES is set to."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from checkin.config import Config
from checkin.gateway.api_error import ApiError
from checkin.gateway.errors import error_middleware
from checkin.gateway.uploads import checked, file_size_words, takes_upload, too_large_file, upload_allowance


def test_the_default_limit_is_about_twelve_megabytes_of_file() -> None:
    assert file_size_words(16 * 1_048_576) == "12 MB"  # 12,582,912 bytes of file
    assert file_size_words(64 * 1_048_576) == "50 MB"
    assert file_size_words(256 * 1024) == "196 KB"


def test_the_refusal_says_the_limit_in_both_languages() -> None:
    refusal = too_large_file(32 * 1_048_576)
    body = refusal.body()
    assert (refusal.status, body["error"]) == (413, "body_too_large")
    assert body["message_zh"] == "檔案太大：上限約 25 MB"
    assert "about 25 MB" in str(body["message"]) and "33,554,432 bytes" in str(body["message"])


async def test_the_check_runs_once_before_the_body_and_the_handler_gets_its_answer(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def who(request: web.Request) -> str:
        calls.append(request.headers.get("X-Who", ""))
        if request.headers.get("X-Who") != "admin":
            raise ApiError(401, "unauthorized", "an admin only")
        return "the admin"

    @takes_upload(who)
    async def upload(request: web.Request) -> web.Response:
        by = await checked(request, who)
        return web.json_response({"by": by, "bytes": len(await request.read())})

    config = replace(Config(), max_upload_bytes=64 * 1024)
    app = web.Application(middlewares=[error_middleware, upload_allowance(config)], client_max_size=1024)
    app.router.add_post("/up", upload)
    client = await aiohttp_client(app)

    taken = await client.post("/up", data=b"x" * 20_000, headers={"X-Who": "admin"})
    assert (taken.status, await taken.json()) == (200, {"by": "the admin", "bytes": 20_000})
    assert calls == ["admin"]  # once: the handler took the middleware's answer
    stranger = await client.post("/up", data=b"x" * 20_000)
    assert stranger.status == 401 and calls == ["admin", ""]
    over = await client.post("/up", data=b"x" * 70_000, headers={"X-Who": "admin"})
    assert over.status == 413 and (await over.json())["message_zh"] == "檔案太大：上限約 49 KB"
