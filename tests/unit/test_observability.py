"""JSON log lines carry the request id the gateway's middleware sets for the request being served."""

from __future__ import annotations

import io
import logging

import orjson
import pytest
from aiohttp import web

from checkin.config import ConfigError, from_env
from checkin.gateway.metrics import GatewayMetrics, observe
from checkin.observability import JsonLineFormatter, setup_logging

log = logging.getLogger("checkin.test_observability")


def test_log_format_is_read_and_checked() -> None:
    assert from_env({}).log_format == "text"
    assert from_env({"CHECKIN_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="CHECKIN_LOG_FORMAT"):
        from_env({"CHECKIN_LOG_FORMAT": "xml"})


def test_json_lines_outside_a_request(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", "json")
        log.info("ready on %d", 8080)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    first, second = (orjson.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "ready on 8080" and first["level"] == "INFO" and "request_id" not in first
    assert first["ts"].endswith("Z")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]


async def test_a_request_s_log_lines_carry_its_id(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonLineFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    async def noisy(request: web.Request) -> web.Response:
        log.info("serving")
        raise web.HTTPNotFound()

    app = web.Application(middlewares=[observe(GatewayMetrics())])
    app.router.add_get("/x", noisy)
    client = await aiohttp_client(app)
    try:
        given = await client.get("/x", headers={"X-Request-Id": "gate-3-0001"})
        made = await client.get("/x")
    finally:
        log.removeHandler(handler)
    ids = [orjson.loads(line)["request_id"] for line in lines.getvalue().splitlines()]
    assert ids == ["gate-3-0001", made.headers["X-Request-Id"]]
    assert given.headers["X-Request-Id"] == "gate-3-0001"
