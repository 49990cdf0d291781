"""FastRedis against the real server: pipelines in order, NOSCRIPT and other reply errors in place,
AUTH and SELECT from the URL, and a new connection after the server drops the old one."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ConnectionError, NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from checkin.gateway.redis.batcher import ScriptBatcher, fast_client_for
from checkin.gateway.redis.fast_redis import FastRedis, pack

ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"


@pytest.fixture
async def fast(redis_url: str) -> AsyncIterator[FastRedis]:
    client = FastRedis.from_url(redis_url)
    yield client
    await client.aclose()


def _url(redis_url: str, *, db: int | None = None, user: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(redis_url)
    netloc = parts.netloc  # with the server's own password, if it has one
    if password is not None:
        netloc = f"{parts.hostname}:{parts.port}"
        netloc = f"{user or ''}:{password}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{db}" if db is not None else parts.path))


async def _client_id(fast: FastRedis) -> int:
    (cid,) = await fast.execute([pack("CLIENT", "ID")])
    return int(cid)


async def test_a_pipeline_answers_every_command_in_order(fast: FastRedis, redis_client: aioredis.Redis,
                                                         redis_prefix: str) -> None:
    sha = await fast.script_load(ECHO)
    assert sha == hashlib.sha1(ECHO.encode()).hexdigest()
    key = f"{redis_prefix}:fast:{secrets.token_hex(4)}"
    commands = [pack("EVALSHA", sha, 1, f"{key}:{i}", f"arg-{i}", i) for i in range(2000)]
    replies = await fast.execute(commands)
    assert replies == [[f"{key}:{i}".encode(), f"arg-{i}".encode(), i + 1] for i in range(2000)]
    # Several pipelines written before any is answered still get their own replies.
    together = await asyncio.gather(*(fast.execute([pack("INCRBY", key, n)] * 3) for n in (1, 10, 100)))
    assert together == [[1, 2, 3], [13, 23, 33], [133, 233, 333]]
    assert await redis_client.get(key) == b"333"
    await redis_client.delete(key)


async def test_reply_errors_come_back_in_place(fast: FastRedis, redis_client: aioredis.Redis,
                                               redis_prefix: str) -> None:
    key = f"{redis_prefix}:fast:{secrets.token_hex(4)}"
    await redis_client.rpush(key, "a list, not a counter")
    unknown = hashlib.sha1(secrets.token_bytes(8)).hexdigest()
    replies = await fast.execute([pack("PING"), pack("EVALSHA", unknown, 0), pack("INCR", key),
                                  pack("EVAL", "return redis.error_reply('refused here')", 0), pack("ECHO", "after")])
    assert replies[0] == b"PONG"
    assert isinstance(replies[1], NoScriptError)
    assert type(replies[2]) is ResponseError and "WRONGTYPE" in str(replies[2])
    assert type(replies[3]) is ResponseError and "refused here" in str(replies[3])
    assert replies[4] == b"after"
    await redis_client.delete(key)


async def test_batcher_loads_a_missing_script_and_resends_only_those(redis_client: aioredis.Redis) -> None:
    script = f"-- {secrets.token_hex(8)}\nreturn ARGV[1]"  # never loaded before
    batcher = ScriptBatcher(redis_client, script)
    assert batcher.fast is not None
    try:
        answers = await asyncio.gather(*(batcher.call([], [f"a{i}"]) for i in range(50)))
        assert answers == [f"a{i}".encode() for i in range(50)]
        assert batcher.round_trips == 2  # the refused pipeline, then the resend after SCRIPT LOAD
    finally:
        await batcher.close()


async def test_select_and_auth_come_from_the_url(redis_url: str, redis_client: aioredis.Redis,
                                                 redis_prefix: str) -> None:
    key = f"{redis_prefix}:fast:{secrets.token_hex(4)}"
    in_db3 = FastRedis.from_url(_url(redis_url, db=3))
    try:
        assert await in_db3.execute([pack("SET", key, "three")]) == [b"OK"]
    finally:
        await in_db3.aclose()
    db3 = aioredis.Redis.from_url(_url(redis_url, db=3))
    try:
        assert await db3.get(key) == b"three"
        assert await redis_client.get(key) is None
        await db3.delete(key)
    finally:
        await db3.aclose()

    user, password = f"fast-{secrets.token_hex(3)}", secrets.token_hex(8)
    await redis_client.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=[f"{redis_prefix}:*"],
                                   commands=["+@all"])
    try:
        good = FastRedis.from_url(_url(redis_url, user=user, password=password))
        try:
            assert await good.execute([pack("ACL", "WHOAMI")]) == [user.encode()]
        finally:
            await good.aclose()
        bad = FastRedis.from_url(_url(redis_url, user=user, password="wrong"))
        with pytest.raises(AuthenticationError):
            await bad.execute([pack("PING")])
        await bad.aclose()
    finally:
        await redis_client.acl_deluser(user)


async def _wait_blocked(redis_client: aioredis.Redis, client_id: int) -> None:
    for _ in range(500):  # bounded: the BLPOP reaches the server within milliseconds
        clients = await redis_client.client_list()
        if any(int(c["id"]) == client_id and c.get("cmd") == "blpop" for c in clients):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"client {client_id} never blocked")


async def test_a_dropped_connection_fails_its_pipeline_and_the_next_call_reconnects(
        fast: FastRedis, redis_client: aioredis.Redis, redis_prefix: str) -> None:
    first = await _client_id(fast)
    waiting = asyncio.create_task(fast.execute([pack("BLPOP", f"{redis_prefix}:fast:never", 30)]))
    await _wait_blocked(redis_client, first)
    await redis_client.client_kill_filter(_id=first)
    with pytest.raises(ConnectionError):
        await waiting
    assert await fast.execute([pack("PING")]) == [b"PONG"]
    assert await _client_id(fast) != first

    # Killed while idle: the next call fails or already finds the connection gone; the one after works.
    second = await _client_id(fast)
    await redis_client.client_kill_filter(_id=second)
    try:
        await fast.execute([pack("PING")])
    except ConnectionError:
        pass
    assert await fast.execute([pack("PING")]) == [b"PONG"]
    assert await _client_id(fast) not in (first, second)


async def test_the_batcher_resends_once_on_a_new_connection(redis_client: aioredis.Redis) -> None:
    batcher = ScriptBatcher(redis_client, "return ARGV[1]")
    assert batcher.fast is not None
    try:
        assert await batcher.call([], ["one"]) == b"one"
        first = await _client_id(batcher.fast)
        conn = batcher.fast._conn
        assert conn is not None and conn.transport is not None
        # The server drops the idle connection before the gateway notices: the next pipeline is
        # written to a dead socket and fails; the batcher must resend it on a new connection.
        before = batcher.round_trips
        conn.transport.pause_reading()
        await redis_client.client_kill_filter(_id=first)
        call = asyncio.create_task(batcher.call([], ["two"]))
        for _ in range(500):  # bounded: the pipeline is written within a few loop turns
            if conn.pending or conn.closed:
                break
            await asyncio.sleep(0.001)
        assert conn.pending or conn.closed
        if not conn.closed:
            conn.transport.resume_reading()
        assert await call == b"two"
        assert batcher.round_trips - before == 2  # on the dead connection, then on a new one
        assert await _client_id(batcher.fast) != first
    finally:
        await batcher.close()


async def test_a_server_that_is_gone_is_a_redis_error(redis_prefix: str) -> None:
    from checkin.servers import free_port

    nowhere = FastRedis(host="127.0.0.1", port=free_port())
    with pytest.raises(RedisError):
        await nowhere.execute([pack("PING")])
    batcher = ScriptBatcher(aioredis.Redis(host="127.0.0.1", port=nowhere.port), "return 1")
    with pytest.raises(ConnectionError):
        await batcher.call([], [])


async def test_a_server_that_stops_answering_is_a_timeout_not_a_hang() -> None:
    """Accepts, reads, never replies (a hung or paused server): the pipeline fails, and the next call
    connects again instead of queueing behind the dead one."""
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while await reader.read(4096):
            pass

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = FastRedis(host="127.0.0.1", port=port, read_timeout_s=0.3)
    try:
        for attempt in (1, 2):
            started = asyncio.get_running_loop().time()
            with pytest.raises(RedisTimeoutError, match="did not answer"):
                await asyncio.wait_for(client.execute([pack("PING")]), 10)
            assert asyncio.get_running_loop().time() - started >= 0.3
            assert len(accepted) == attempt  # a new connection for the second call
    finally:
        await client.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


def test_which_clients_get_the_fast_path() -> None:
    plain = fast_client_for(aioredis.Redis.from_url("redis://u:p%40ss@10.0.0.5:6380/4"))
    assert plain is not None
    assert (plain.host, plain.port, plain.db, plain.username, plain.password) == ("10.0.0.5", 6380, 4, "u", "p@ss")
    unix = fast_client_for(aioredis.Redis.from_url("unix:///run/valkey.sock?db=2"))
    assert unix is not None and (unix.path, unix.db) == ("/run/valkey.sock", 2)
    assert fast_client_for(aioredis.Redis.from_url("rediss://10.0.0.5:6380/0")) is None
    assert FastRedis.from_url("unix:///run/valkey.sock").path == "/run/valkey.sock"
    with pytest.raises(ValueError):
        FastRedis.from_url("rediss://10.0.0.5:6380/0")
