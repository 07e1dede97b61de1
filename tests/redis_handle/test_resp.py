"""The cache's pipelined Redis client, against the real Redis at 127.0.0.1:6379 and, for deadlines, a
local server that accepts connections and never answers."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from service.redis.resp import Endpoint, RedisError, RespClient
from tests.cache.conftest import REDIS_URL


@pytest.fixture
async def client() -> AsyncIterator[RespClient]:
    resp = RespClient(Endpoint.from_url(REDIS_URL), connect_timeout_s=1.0)
    yield resp
    await resp.close()


async def test_concurrent_calls_share_one_connection_and_each_gets_its_own_replies(
    client: RespClient, observer: Redis, prefix: str
) -> None:
    keys = [f"{prefix}:{i}" for i in range(300)]
    await observer.mset({key: f"value {i}".encode() for i, key in enumerate(keys)})
    try:
        replies = await asyncio.gather(
            *(client.execute([("GET", key), ("STRLEN", key)], timeout_s=2.0) for key in keys)
        )
        assert replies == [[f"value {i}".encode(), len(f"value {i}")] for i in range(len(keys))]
        connection = client._connection
        await client.execute([("PING",)], timeout_s=2.0)
        assert client._connection is connection  # one connection, kept
    finally:
        await observer.delete(*keys)


async def test_an_error_reply_raises_and_leaves_the_connection_in_step(
    client: RespClient, observer: Redis, prefix: str
) -> None:
    await observer.set(f"{prefix}:text", b"not a number")
    try:
        with pytest.raises(RedisError, match="not an integer"):
            await client.execute([("INCR", f"{prefix}:text"), ("ECHO", "after")], timeout_s=2.0)
        assert await client.execute([("GET", f"{prefix}:text")], timeout_s=2.0) == [b"not a number"]
    finally:
        await observer.delete(f"{prefix}:text")


async def test_the_url_selects_the_database(observer: Redis, prefix: str) -> None:
    client = RespClient(Endpoint.from_url("redis://127.0.0.1:6379/1"), connect_timeout_s=1.0)
    db1 = Redis.from_url("redis://127.0.0.1:6379/1")
    try:
        await client.execute([("SET", f"{prefix}:db", b"one", "EX", 60)], timeout_s=2.0)
        assert await db1.get(f"{prefix}:db") == b"one"
        assert await observer.get(f"{prefix}:db") is None  # not in database 0
    finally:
        await db1.delete(f"{prefix}:db")
        await db1.aclose()
        await client.close()


async def test_a_refused_login_fails_the_call() -> None:
    # The shared Redis has no password, so AUTH is an error reply.
    bad = RespClient(Endpoint.from_url("redis://:secret@127.0.0.1:6379/0"), connect_timeout_s=1.0)
    with pytest.raises(RedisError, match="connection setup"):
        await bad.execute([("PING",)], timeout_s=1.0)
    await bad.close()


async def test_a_missed_deadline_fails_every_pending_call_and_the_next_call_reconnects() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient(Endpoint.from_url(f"redis://127.0.0.1:{port}/0"), connect_timeout_s=1.0)
    try:
        start = time.monotonic()
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                client.execute([("GET", "a")], timeout_s=0.05),
                client.execute([("GET", "b")], timeout_s=5.0),  # behind a late reply: fails with it
                return_exceptions=True,
            ),
            timeout=2.0,
        )
        assert all(isinstance(o, RedisError) for o in outcomes), outcomes
        assert time.monotonic() - start < 1.0
        assert len(connections) == 1
        with pytest.raises(RedisError):
            await client.execute([("GET", "c")], timeout_s=0.05)
        assert len(connections) == 2  # the out-of-step connection was replaced
    finally:
        await client.close()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


def test_endpoints_from_urls() -> None:
    plain = Endpoint.from_url("redis://127.0.0.1:6380/2")
    assert (plain.host, plain.port, plain.db, plain.tls) == ("127.0.0.1", 6380, 2, None)
    assert plain.where == "127.0.0.1:6380/2"
    login = Endpoint.from_url("redis://user:p%40ss@cache.internal")
    assert (login.username, login.password, login.port, login.db) == ("user", "p@ss", 6379, 0)
    assert "p@ss" not in login.where
    tls = Endpoint.from_url("rediss://cache.internal:6379/0")
    assert tls.tls is not None and tls.tls.verify_mode == ssl.CERT_REQUIRED and tls.tls.check_hostname
    lax = Endpoint.from_url("rediss://cache.internal/0?ssl_cert_reqs=none&ssl_check_hostname=false")
    assert lax.tls is not None and lax.tls.verify_mode == ssl.CERT_NONE
    socket = Endpoint.from_url("unix:///run/redis.sock?db=3")
    assert (socket.path, socket.db, socket.where) == ("/run/redis.sock", 3, "/run/redis.sock/3")
    with pytest.raises(ValueError, match="health_check_interval"):
        Endpoint.from_url("redis://127.0.0.1/0?health_check_interval=5")
    with pytest.raises(ValueError):
        Endpoint.from_url("http://127.0.0.1/0")
