"""A lean Redis client for the request path (cache, rate limits, admin sessions): one pipelined
connection, RESP2 parsed by hiredis.

Contract. It speaks RESP2 only (no RESP3, no client-side caching, no pub/sub), to one endpoint: no
cluster, no sentinel, no replica routing. It knows AUTH (with or without a user), SELECT and TLS, and
nothing else of a connection's setup: a URL option beyond those is refused (ValueError). From redis-py
it takes only the URL grammar (`redis.asyncio.connection.parse_url`), so `DIALOGIC_REDIS_URL` means the
same to it as to the job store's redis-py client; from hiredis, the reply parser. No retries: the
caller's breaker decides when to try again. Anything else needs redis-py, as the job store uses.

Why it exists: the request path makes its round trips on the event loop that also serves HTTP, and
measured interleaved against redis-py with hiredis it costs a quarter to an eighth of the loop's CPU
per round trip (docs/performance.md, "Redis client"; `python -m load.bench_redis`).

Commands from concurrent requests share one connection: each call writes its commands at once and
gets its replies in order, since Redis answers a connection's commands in the order they arrive. A
reply that misses its deadline leaves the connection out of step, so the connection is closed: every
call pending on it fails (the handle's breaker counts the failures), and the next call reconnects.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url

Command = Sequence[str | bytes | int]
Reply = Any  # bytes, int, None, or a list of them
CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


class RedisError(Exception):
    """An error reply, a lost connection or a missed deadline."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect, from a redis://, rediss:// or unix:// URL (redis-py's grammar)."""

    host: str = "localhost"
    port: int = 6379
    path: str | None = None  # a unix socket
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """Raises ValueError on a malformed URL or a query option this client does not implement."""
        options: dict[str, Any] = dict(parse_url(url))
        tls = None
        if options.pop("connection_class", None) is SSLConnection:
            tls = ssl.create_default_context(cafile=options.pop("ssl_ca_certs", None))
            verify = CERT_REQS[options.pop("ssl_cert_reqs", "required").lower()]
            tls.check_hostname = bool(options.pop("ssl_check_hostname", True)) and verify != ssl.CERT_NONE
            tls.verify_mode = verify
        unknown = set(options) - {"host", "port", "path", "db", "username", "password"}
        if unknown:
            raise ValueError(f"Redis URL options not supported by the result cache: {sorted(unknown)}")
        return cls(tls=tls, **options)

    @property
    def where(self) -> str:
        """Host, port and database, never the password."""
        return f"{self.path or f'{self.host}:{self.port}'}/{self.db}"


def pack(command: Command) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


@dataclass
class _Call:
    future: asyncio.Future[list[Reply]]
    expected: int
    deadline: float  # loop.time()
    replies: list[Reply]


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.reader = loop, hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.pending: deque[_Call] = deque()
        self.closed = False
        self._watch_at: float | None = None  # when the deadline check runs next (one timer at most)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                call = self.pending[0]
                call.replies.append(reply)
                if len(call.replies) == call.expected:
                    self.pending.popleft()
                    if not call.future.done():  # its caller may have given up
                        call.future.set_result(call.replies)
        except (hiredis.ProtocolError, IndexError):  # garbage, or a reply nobody asked for
            self.abort(RedisError("Redis sent a reply out of step"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisError(f"Redis connection lost: {exc or 'closed'}"))

    def send(self, commands: Sequence[Command], timeout_s: float) -> asyncio.Future[list[Reply]]:
        assert self.transport is not None
        self.transport.write(b"".join(map(pack, commands)))
        call = _Call(self.loop.create_future(), len(commands), self.loop.time() + timeout_s, [])
        self.pending.append(call)
        if self._watch_at is None or call.deadline < self._watch_at:
            self._watch_at = call.deadline
            self.loop.call_at(call.deadline, self._watch)
        return call.future

    def _watch(self) -> None:
        """The deadline check: fails the connection when a pending call is late, else runs again at
        the earliest pending deadline. Timers that an earlier deadline superseded end here at once."""
        now = self.loop.time()
        if self._watch_at is None or now < self._watch_at:
            return
        self._watch_at = None
        if not self.pending:
            return
        earliest = min(call.deadline for call in self.pending)
        if earliest <= now:
            self.abort(RedisError("Redis did not answer within the deadline"))
        else:
            self._watch_at = earliest
            self.loop.call_at(earliest, self._watch)

    def abort(self, exc: Exception) -> None:
        self._fail(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        self.closed, self._watch_at = True, None
        while self.pending:
            call = self.pending.popleft()
            if not call.future.done():
                call.future.set_exception(exc)


class RespClient:
    def __init__(self, endpoint: Endpoint, connect_timeout_s: float) -> None:
        self.endpoint, self.connect_timeout_s = endpoint, connect_timeout_s
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()

    async def execute(self, commands: Sequence[Command], timeout_s: float) -> list[Reply]:
        """Send `commands` in one write and return their replies in order. Raises RedisError on an error
        reply, a lost connection or a reply later than `timeout_s`."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connect()
        replies = await connection.send(commands, timeout_s)
        for reply in replies:
            if isinstance(reply, hiredis.ReplyError):
                raise RedisError(str(reply))
        return replies

    async def _connect(self) -> _Connection:
        async with self._connecting:  # concurrent callers share one attempt
            if self._connection is None or self._connection.closed:
                self._connection = await asyncio.wait_for(self._open(), self.connect_timeout_s)
            return self._connection

    async def _open(self) -> _Connection:
        loop, ep = asyncio.get_running_loop(), self.endpoint
        if ep.path:
            _, connection = await loop.create_unix_connection(lambda: _Connection(loop), ep.path)
        else:
            _, connection = await loop.create_connection(
                lambda: _Connection(loop), ep.host, ep.port, ssl=ep.tls
            )
        setup: list[Command] = []
        if ep.password is not None:
            setup.append(("AUTH", ep.username, ep.password) if ep.username else ("AUTH", ep.password))
        if ep.db:
            setup.append(("SELECT", ep.db))
        try:
            for reply in await connection.send(setup, self.connect_timeout_s) if setup else []:
                if isinstance(reply, hiredis.ReplyError):
                    raise RedisError(f"Redis refused the connection setup: {reply}")
        except BaseException:
            connection.abort(RedisError("connection setup failed"))
            raise
        return connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.abort(RedisError("client closed"))
            self._connection = None
