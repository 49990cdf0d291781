"""A minimal Redis client for the scan batcher: whole pipelines on one connection, hiredis parsing.

redis-py costs about 60 µs of CPU a pipelined command (command objects, response callbacks, its
connection pool); this client packs each command once and hands the socket's bytes to hiredis, which
is about 8 µs. It does only what the batcher needs: send N commands in one write, get N replies back
in order. Reply errors come back as exception objects in the reply list (NoScriptError for NOSCRIPT,
ResponseError otherwise), as redis-py's `execute(raise_on_error=False)` gives them. A lost connection
fails the pipelines on it with redis's ConnectionError; the next call connects again. A server that
keeps the connection open but stops answering (hung, or paused) fails them with redis's TimeoutError
after `read_timeout_s`, checked once a second rather than timed per pipeline.

Plain TCP (`redis://`) and unix sockets (`unix://`) only; TLS and Cluster stay on redis-py.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0  # a scan's pipeline unanswered this long: the connection is given up (the gateway answers 503)


def pack(*args: str | bytes | int | float) -> bytes:
    """One command as a RESP array of bulk strings."""
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]  # the stub allows 1-tuples only
    return packed


def reply_error(error: hiredis.ReplyError) -> ResponseError:
    message = str(error)
    code, _, rest = message.partition(" ")
    if code == "NOSCRIPT":
        return NoScriptError(rest)
    if code == "ERR":
        return ResponseError(rest)
    return ResponseError(message)


@dataclass
class _Pending:
    want: int
    replies: list[Any]
    done: asyncio.Future[list[Any]]
    sent_at: float = 0.0  # loop time of the write


class _Protocol(asyncio.Protocol):
    """Replies are matched to pipelines in the order the pipelines were written."""

    def __init__(self) -> None:
        self.parser = hiredis.Reader()
        self.pending: deque[_Pending] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        parser.feed(data)
        pending = self.pending
        try:
            while pending:
                head = pending[0]
                replies = head.replies
                want = head.want
                while len(replies) < want:
                    reply = parser.gets()
                    if reply is False:
                        return
                    replies.append(reply)
                pending.popleft()
                if not head.done.done():
                    head.done.set_result(replies)
            if parser.gets() is not False:  # a reply nobody asked for: the stream is out of step
                self.fail(RedisConnectionError("Redis sent a reply no command asked for"))
        except hiredis.ProtocolError as exc:
            self.fail(RedisConnectionError(f"Redis protocol error: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail_pending(RedisConnectionError(f"Connection closed by server ({exc})" if exc else
                                           "Connection closed by server."))

    def fail(self, exc: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._fail_pending(exc)

    def _fail_pending(self, exc: Exception) -> None:
        while self.pending:
            done = self.pending.popleft().done
            if not done.done():
                done.set_exception(exc)


class FastRedis:
    """One connection to one Redis server; safe to share between tasks (pipelines queue in order)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, path: str | None = None, db: int = 0,
                 username: str | None = None, password: str | None = None,
                 read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.read_timeout_s = read_timeout_s
        self.host = host
        self.port = port
        self.path = path
        self.db = db
        self.username = username
        self.password = password
        self._conn: _Protocol | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> FastRedis:
        if not url.startswith(("redis://", "unix://")):
            raise ValueError("FastRedis takes redis:// or unix:// URLs")
        parts = parse_url(url)
        return cls(host=str(parts.get("host") or "127.0.0.1"), port=int(parts.get("port") or 6379),
                   path=parts.get("path"), db=int(parts.get("db") or 0),
                   username=parts.get("username"), password=parts.get("password"))

    async def execute(self, commands: Sequence[bytes]) -> list[Any]:
        """Send packed commands in one write; their replies in order, reply errors as exception objects."""
        if not commands:
            return []
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        replies = await self._send(conn, commands)
        for i, reply in enumerate(replies):
            if type(reply) is hiredis.ReplyError:
                replies[i] = reply_error(reply)
        return replies

    async def script_load(self, script: str) -> str:
        (sha,) = await self.execute([pack("SCRIPT", "LOAD", script)])
        if isinstance(sha, Exception):
            raise sha
        return bytes(sha).decode("ascii")

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None and not conn.closed:
            conn.closed = True
            conn.transport.close()

    async def _send(self, conn: _Protocol, commands: Sequence[bytes]) -> list[Any]:
        if conn.closed:  # lost between the caller's check and now
            raise RedisConnectionError("Connection closed by server.")
        loop = asyncio.get_running_loop()
        pending = _Pending(len(commands), [], loop.create_future(), loop.time())
        conn.pending.append(pending)
        assert conn.transport is not None
        conn.transport.write(b"".join(commands))
        try:
            return await pending.done
        except asyncio.CancelledError:
            # The replies would still arrive and be taken for the next pipeline's: drop the connection.
            conn.fail(RedisConnectionError("a pipeline was cancelled mid-flight"))
            raise

    def _watch(self, conn: _Protocol, where: str) -> None:
        """Once a second while the connection lives: give it up if its oldest pipeline waited too long."""
        if conn.closed:
            return
        loop = asyncio.get_running_loop()
        if conn.pending and loop.time() - conn.pending[0].sent_at > self.read_timeout_s:
            conn.fail(RedisTimeoutError(f"Redis at {where} did not answer within {self.read_timeout_s:g} s"))
            return
        loop.call_later(min(1.0, self.read_timeout_s / 2), self._watch, conn, where)

    async def _connect(self) -> _Protocol:
        async with self._lock:  # tasks that find the connection down share one new connection
            if self._conn is None or self._conn.closed:
                self._conn = await self._open()
            return self._conn

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        where = self.path or f"{self.host}:{self.port}"
        try:
            if self.path:
                opening = loop.create_unix_connection(_Protocol, self.path)
            else:
                opening = loop.create_connection(_Protocol, self.host, self.port)
            _, conn = await asyncio.wait_for(opening, CONNECT_TIMEOUT_S)
        except TimeoutError as exc:
            raise RedisTimeoutError(f"Timeout connecting to Redis at {where}") from exc
        except OSError as exc:
            raise RedisConnectionError(f"Error connecting to Redis at {where}: {exc}") from exc
        self._watch(conn, where)
        hello: list[tuple[str, bytes]] = []
        if self.password is not None:
            hello.append(("AUTH", pack("AUTH", *([self.username] if self.username else []), self.password)))
        if self.db:
            hello.append(("SELECT", pack("SELECT", self.db)))
        if hello:
            replies = await self._send(conn, [command for _, command in hello])
            for (name, _), reply in zip(hello, replies, strict=True):
                if isinstance(reply, hiredis.ReplyError):
                    conn.fail(RedisConnectionError(f"{name} failed"))
                    error = reply_error(reply)
                    raise AuthenticationError(str(error)) if name == "AUTH" else error
        return conn
