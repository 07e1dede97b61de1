from __future__ import annotations

from service.cache.memory import MemoryCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_hit_miss_and_lru_eviction() -> None:
    cache = MemoryCache(max_entries=2, ttl_s=60)
    await cache.set_many({"a": {"x": 0.1}, "b": {"x": 0.2}})
    assert await cache.get_many(["a", "zz"]) == [{"x": 0.1}, None]
    await cache.set_many({"c": {"x": 0.3}})  # "b" is the least recently used now
    assert await cache.get_many(["a", "b", "c"]) == [{"x": 0.1}, None, {"x": 0.3}]
    assert cache.status() == {"backend": "memory", "state": "up", "entries": 2, "max_entries": 2}


async def test_ttl_is_honoured() -> None:
    clock = Clock()
    cache = MemoryCache(max_entries=10, ttl_s=5, clock=clock)
    await cache.set_many({"a": {"x": 0.1}})
    clock.now = 4.9
    assert await cache.get_many(["a"]) == [{"x": 0.1}]
    clock.now = 5.0
    assert await cache.get_many(["a"]) == [None]
    assert cache.status()["entries"] == 0


async def test_returned_values_are_copies_and_flush_counts() -> None:
    cache = MemoryCache(max_entries=10, ttl_s=60)
    await cache.set_many({"a": {"x": 0.1}})
    (got,) = await cache.get_many(["a"])
    assert got is not None
    got["x"] = 9.0
    assert await cache.get_many(["a"]) == [{"x": 0.1}]
    assert await cache.flush() == 1
    assert await cache.get_many(["a"]) == [None]
