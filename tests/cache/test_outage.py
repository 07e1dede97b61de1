"""Redis going away mid-stream, on a throwaway redis-server of our own (the shared one is untouched):
no call fails, the breaker opens, and caching resumes by itself when Redis is back."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import redis

from service.cache import RedisCache
from service.redis.breaker import CircuitBreaker
from service.scoring import Scorer
from tests.cache.conftest import FakePredict
from tests.cache.test_redis import free_port

pytestmark = pytest.mark.slow


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[Server]:
        """A server of a test's own, thawed (if the test left it stopped) and killed afterwards."""
        srv = cls()
        srv.start()
        try:
            yield srv
        finally:
            if srv.proc is not None and srv.proc.poll() is None:
                srv.signal(signal.SIGCONT)
                srv.kill()


@pytest.fixture
def server() -> Iterator[Server]:
    with Server.running() as srv:
        yield srv


@dataclass
class Stream:
    """Concurrent score() calls, mixing repeats and new texts, recording failures and the slowest call."""

    scorer: Scorer
    calls: int = 0
    failures: list[BaseException] = field(default_factory=list)
    slowest: float = 0.0
    counter: itertools.count[int] = field(default_factory=itertools.count)

    async def worker(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            n = next(self.counter)
            start = time.perf_counter()
            try:
                await self.scorer.score([f"repeat {n % 7}", f"new {n}", f"repeat {n % 7}"])
            except Exception as exc:
                self.failures.append(exc)
            self.calls += 1
            self.slowest = max(self.slowest, time.perf_counter() - start)
            await asyncio.sleep(0.002)


@pytest.fixture
async def setup(server: Server) -> AsyncIterator[tuple[Server, RedisCache, Scorer, Stream]]:
    breaker = CircuitBreaker("outage-test", threshold=3, base_backoff_s=0.05, max_backoff_s=0.4)
    cache = RedisCache.from_url(
        f"redis://127.0.0.1:{server.port}/0", prefix="outage", ttl_s=60, timeout_ms=100, breaker=breaker
    )
    scorer = Scorer(cache, FakePredict(), "v1", "outage")
    yield server, cache, scorer, Stream(scorer)
    await cache.close()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def caching_works(scorer: Scorer, text: str) -> bool:
    await scorer.score([text])
    return (await scorer.score([text]))[0].cached


async def exercise(
    server: Server,
    cache: RedisCache,
    scorer: Scorer,
    stream: Stream,
    go_down: signal.Signals,
    come_back: signal.Signals | None,
) -> None:
    stop = asyncio.Event()
    workers = [asyncio.create_task(stream.worker(stop)) for _ in range(4)]
    try:
        await asyncio.sleep(0.3)
        assert await caching_works(scorer, "before")
        if come_back is None:
            server.kill()
        else:
            server.signal(go_down)
        await until(lambda: cache.redis.breaker.state == "open")
        calls_when_open = stream.calls
        await asyncio.sleep(0.5)  # the stream keeps going while Redis is away
        assert stream.calls > calls_when_open + 20
        assert cache.status()["state"] == "down"
        if come_back is None:
            server.start()  # a fresh, empty server on the same port
        else:
            server.signal(come_back)
        await until(lambda: cache.redis.breaker.state == "closed")
        deadline = time.monotonic() + 10
        while not await caching_works(scorer, f"after {time.monotonic()}"):
            assert time.monotonic() < deadline
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert stream.failures == []
    assert stream.slowest < 2.0  # a timeout bounds every call while Redis hangs
    assert cache.status()["state"] == "up"


async def test_redis_killed_and_restarted(setup: tuple[Server, RedisCache, Scorer, Stream]) -> None:
    await exercise(*setup, go_down=signal.SIGKILL, come_back=None)


async def test_redis_frozen_and_resumed(setup: tuple[Server, RedisCache, Scorer, Stream]) -> None:
    await exercise(*setup, go_down=signal.SIGSTOP, come_back=signal.SIGCONT)
