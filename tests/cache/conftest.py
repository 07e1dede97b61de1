"""Fixtures for the cache tests: the shared Redis at 127.0.0.1:6379 under a throwaway key prefix,
and a fake model that records what it was asked (the model itself is tested elsewhere)."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from redis.asyncio import Redis

from model.runtime.classifier import Prediction, to_prediction
from service.cache.redis import RedisCache
from service.inference.batcher import DeadlineExceeded

REDIS_URL = "redis://127.0.0.1:6379/0"


def fake_prediction(text: str) -> Prediction:
    p = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return to_prediction([1 - p, p])


class FakePredict:
    """An async `predict` that records each call's texts and deadline; `delay` keeps a call in flight a
    while, and a call whose deadline passes meanwhile fails as the batcher's would."""

    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.deadlines: list[float | None] = []
        self.delay, self.error = delay, error

    async def __call__(self, texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        self.calls.append(list(texts))
        self.deadlines.append(deadline)
        await asyncio.sleep(self.delay)
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded
        if self.error:
            raise self.error
        return [fake_prediction(t) for t in texts]


@pytest.fixture
def prefix() -> str:
    return f"dialogic-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_cache(prefix: str) -> AsyncIterator[RedisCache]:
    # A generous deadline: this machine is shared, and these tests check behaviour, not latency.
    cache = RedisCache.from_url(REDIS_URL, prefix=prefix, ttl_s=60, timeout_ms=1000)
    assert await cache.redis.ping(1.0), "the shared Redis at 127.0.0.1:6379 must be running"
    yield cache
    await cache.flush()
    await cache.close()


@pytest.fixture
async def observer() -> AsyncIterator[Redis]:
    """A redis-py client of its own, to look at what the cache wrote (and to write behind its back)."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def predict() -> FakePredict:
    return FakePredict()
