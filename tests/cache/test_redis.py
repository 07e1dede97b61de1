"""RedisCache against the real Redis at 127.0.0.1:6379 (a unique key prefix per test, removed after)."""

from __future__ import annotations

import random
import socket

from redis.asyncio import Redis

from service.cache import MemoryCache, RedisCache, build_cache, cache_key
from service.cache.redis import decode, encode
from service.jobs.store import JobStore
from service.ratelimit import RateLimiter
from service.settings import Settings
from tests.cache.conftest import REDIS_URL


def key(prefix: str, text: str) -> str:
    return cache_key(prefix, "v1", text)


async def test_hit_miss_and_ttl(redis_cache: RedisCache, observer: Redis, prefix: str) -> None:
    scores = {"broadcast": 0.25, "conversation": 0.75}
    await redis_cache.set_many({key(prefix, "a"): scores})
    assert await redis_cache.get_many([key(prefix, "a"), key(prefix, "b")]) == [scores, None]
    ttl = await observer.ttl(key(prefix, "a"))
    assert 0 < ttl <= 60
    assert redis_cache.status() == {
        "backend": "redis",
        "state": "up",
        "breaker": "closed",
        "where": "127.0.0.1:6379/0",
        "local_entries": 0,
    }


async def test_local_copies_answer_hot_keys_and_go_with_a_flush(observer: Redis, prefix: str) -> None:
    cache = RedisCache.from_url(REDIS_URL, prefix=prefix, ttl_s=60, timeout_ms=200, local_entries=2)
    other_replica = RedisCache.from_url(REDIS_URL, prefix=prefix, ttl_s=60, timeout_ms=200)
    a, b, c = ({"broadcast": p, "conversation": 1 - p} for p in (0.1, 0.2, 0.3))
    try:
        await cache.set_many({key(prefix, "a"): a})
        await other_replica.set_many({key(prefix, "b"): b, key(prefix, "c"): c})
        # b comes from Redis and is kept locally; a was kept when it was written.
        assert await cache.get_many([key(prefix, "a"), key(prefix, "b")]) == [a, b]
        await observer.delete(key(prefix, "a"), key(prefix, "b"))
        assert await cache.get_many([key(prefix, "a"), key(prefix, "b")]) == [a, b]  # no round trip
        assert await cache.get_many([key(prefix, "c")]) == [c]  # the LRU holds 2: a goes
        assert await cache.get_many([key(prefix, "a")]) == [None]
        assert cache.status()["local_entries"] == 2
        await cache.flush()
        assert cache.status()["local_entries"] == 0
        assert await cache.get_many([key(prefix, "b"), key(prefix, "c")]) == [None, None]
    finally:
        await cache.close()
        await other_replica.close()


async def test_values_are_8_bytes_and_keep_6_decimals(
    redis_cache: RedisCache, observer: Redis, prefix: str
) -> None:
    rng = random.Random(0)
    items = {}
    for i in range(2000):
        p = round(rng.random() ** rng.choice([1, 5, 20]), 6)  # include tiny probabilities
        items[key(prefix, str(i))] = {"broadcast": round(1 - p, 6), "conversation": p}
    items[key(prefix, "edge")] = {"broadcast": 0.999999, "conversation": 1e-06}
    await redis_cache.set_many(items)
    assert await redis_cache.get_many(list(items)) == list(items.values())
    assert await observer.strlen(key(prefix, "edge")) == 8
    # Six significant digits survive for values that are not 6-decimal roundings as well.
    small = {"broadcast": 0.123456789, "conversation": 1.23456789e-9}
    for label, value in decode(encode(small)).items():
        assert abs(value - small[label]) <= abs(small[label]) * 5e-7


async def test_undecodable_value_is_a_miss(redis_cache: RedisCache, observer: Redis, prefix: str) -> None:
    await observer.set(key(prefix, "bad"), b"not eight bytes")
    assert await redis_cache.get_many([key(prefix, "bad")]) == [None]


async def test_flush_removes_cached_results_only(
    redis_cache: RedisCache, observer: Redis, prefix: str
) -> None:
    client = observer
    others = [f"{prefix}x:r:1", f"{prefix}-other:k", f"other:{prefix}:k"]  # share the text, not the namespace
    for name in others:
        await client.set(name, b"1", ex=60)
    # Same prefix, not results: a login counter (a flush must not reset the limit) and a batch job.
    # A stopped clock: both hits count in one window even when the test straddles a minute boundary.
    limiter = RateLimiter(3, f"{prefix}:admin-login", clock=lambda: 1_000_000.0, redis=redis_cache.redis)
    assert (await limiter.hit("ip:192.0.2.1")).count == 1
    job = JobStore(client, prefix, ttl=60, lease_s=2, chunk_timeout_s=40).key("j1")
    await client.hset(job, "state", "queued")
    try:
        await redis_cache.set_many(
            {key(prefix, str(i)): {"broadcast": 0.5, "conversation": 0.5} for i in range(2500)}
        )
        assert await redis_cache.flush() == 2500
        assert await client.exists(*others, job) == len(others) + 1
        assert (await limiter.hit("ip:192.0.2.1")).count == 2
        assert await redis_cache.get_many([key(prefix, "1")]) == [None]
    finally:
        await client.delete(*others, *[name async for name in client.scan_iter(match=f"{prefix}:*")])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_redis_never_raises(prefix: str) -> None:
    cache = RedisCache.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix=prefix, ttl_s=60, timeout_ms=50)
    items = {key(prefix, "a"): {"broadcast": 0.5, "conversation": 0.5}}
    for _ in range(5):
        assert await cache.get_many(list(items)) == [None]
        await cache.set_many(items)
    assert await cache.flush() == 0
    assert cache.status()["state"] == "down" and cache.redis.breaker.state == "open"
    await cache.close()


async def test_build_cache_picks_the_backend(prefix: str) -> None:
    memory = await build_cache(Settings(cache_size=7))
    assert isinstance(memory, MemoryCache) and memory.max_entries == 7

    up = await build_cache(Settings(redis_url=REDIS_URL, cache_prefix=prefix))
    assert isinstance(up, RedisCache) and up.status()["state"] == "up"
    await up.close()

    down = await build_cache(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", cache_prefix=prefix))
    assert isinstance(down, RedisCache) and down.redis.breaker.state == "open"  # resumes by itself later
    await down.close()


def test_the_op_deadline_is_the_setting_and_connecting_gets_at_least_a_second() -> None:
    cache = RedisCache.from_url(REDIS_URL, prefix="p", ttl_s=1, timeout_ms=5)
    assert cache.redis.timeout_s == 0.005 and cache.redis.resp.connect_timeout_s == 1.0
