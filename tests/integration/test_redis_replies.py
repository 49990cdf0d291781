"""No 500 on the scan path, whatever comes back from Redis: each failed, partial or garbled reply shape is
served by a scripted RESP server on a real socket, in place of Valkey for the scan calls only, and every
one gets 503 with Retry-After and a JSON body; the gateway logs the outage once, not once per scan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import hiredis
import orjson
import pytest

from checkin.gateway import outages
from checkin.gateway.redis.fast_redis import FastRedis
from checkin.gateway.state import state_key
from loadtest.event_factory import Scenario

GOOD = orjson.dumps(["checked_in", "", "", "V1", "name", "team", -1, 1, 1_700_000_000_000]).decode()


def _bulk(text: str) -> bytes:
    raw = text.encode()
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def _reply(status: str, answer: str, durable: bytes = b":0\r\n") -> bytes:
    return b"*3\r\n" + _bulk(status) + _bulk(answer) + durable


# name -> (what the server writes for each command it reads, whether it then closes the connection);
# None: it closes the connection instead of answering.
SHAPES: dict[str, tuple[bytes | None, bool]] = {
    "error reply": (b"-ERR Error running script (call to f_x): @user_script:1: out of memory\r\n", False),
    "LOADING while the append-only file is read": (b"-LOADING Valkey is loading the dataset in memory\r\n", False),
    "nil": (b"$-1\r\n", False),
    "integer": (b":42\r\n", False),
    "plain string": (b"+OK\r\n", False),
    "empty array": (b"*0\r\n", False),
    "unknown status": (_reply("maybe", GOOD), False),
    "answer not JSON": (_reply("ok", "{not json"), False),
    "answer JSON but not a list": (_reply("ok", '{"verdict": "checked_in"}'), False),
    "answer list too short": (_reply("ok", '["checked_in", "", ""]'), False),
    "answer with a number for text": (_reply("ok", orjson.dumps([7, "", "", "V1", "n", "t", -1, 1, 1]).decode()), False),
    "answer with text for minutes": (
        _reply("ok", orjson.dumps(["checked_in", "", "", "V1", "n", "t", "x", 1, 1]).decode()), False),
    "durable_seq not a number": (_reply("ok", GOOD, _bulk("many")), False),
    "array cut short, connection closed": (b"*3\r\n" + _bulk("ok") + _bulk(GOOD), True),
    "array cut short, connection kept open": (b"*3\r\n" + _bulk("ok") + _bulk(GOOD), False),
    "half a reply, then the connection closes": (b'*3\r\n$2\r\nok\r\n$40\r\n["checked_in"', True),
    "bytes that are not RESP": (b"\x00\x01garbage\r\n", False),
    "connection closed with no reply": (None, True),
}


async def _scripted_server(reply: bytes | None, close: bool) -> tuple[asyncio.Server, int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader()
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while parser.gets() is not False:
                    if reply is not None:
                        writer.write(reply)
                    if close:
                        await writer.drain()
                        return
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
def no_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's once-a-second look at Redis would end an outage mid-test (Valkey itself is fine)."""
    monkeypatch.setattr(outages, "WATCH_S", 3600.0)


@pytest.fixture
async def scripted(gateway) -> AsyncIterator[Callable[[str], Awaitable[None]]]:  # type: ignore[no-untyped-def]
    """Point the gateway's scan calls at a server that answers with the given bytes."""
    state = gateway.server.app[state_key]
    real = state.batcher.fast
    servers: list[asyncio.Server] = []

    async def use(shape: str) -> None:
        server, port = await _scripted_server(*SHAPES[shape])
        servers.append(server)
        if state.batcher.fast is not real:
            await state.batcher.fast.aclose()
        state.batcher.fast = FastRedis(port=port, read_timeout_s=2)

    yield use
    if state.batcher.fast is not real:
        await state.batcher.fast.aclose()
    state.batcher.fast = real
    for server in servers:
        server.close()


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_every_bad_reply_is_a_503_with_retry_after(gateway, scripted, scenario: Scenario,  # type: ignore[no-untyped-def]
                                                         shape: str) -> None:
    await scripted(shape)
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    gate = f"{scenario.event_id}-desk"
    single = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], gate), headers=auth)
    batch = await gateway.post("/api/v1/scans/batch", headers=auth,
                               json={"scans": [scenario.scan(card, gate) for _, card in scenario.cards[:3]]})
    for resp in (single, batch):
        body = await resp.json()
        assert resp.status == 503, (shape, resp.status, body)
        assert body["error"] == "unavailable" and body["message"]
        assert int(resp.headers["Retry-After"]) > 0


async def test_an_outage_is_logged_once_and_its_end_once(no_watch, gateway, scripted,  # type: ignore[no-untyped-def]
                                                        scenario: Scenario, caplog: pytest.LogCaptureFixture) -> None:
    state = gateway.server.app[state_key]
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    gate = f"{scenario.event_id}-desk"
    caplog.set_level(logging.WARNING, logger="checkin.gateway.outages")
    await scripted("answer not JSON")
    for _, card in scenario.cards[:10]:
        resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, gate), headers=auth)
        assert resp.status == 503
    assert state.redis_outage.ended()  # what the watcher does on its next successful look
    lines = [r.getMessage() for r in caplog.records if r.name == "checkin.gateway.outages"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Redis unreachable (GarbledReply") and "10 failed calls" in lines[1]
