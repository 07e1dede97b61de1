"""Redis result cache shared by all replicas: one MGET per lookup, one pipelined write per write-back.

Values are the probabilities in LABELS order packed as little-endian float32 (8 bytes for two
labels, against ~60 for JSON): float32 keeps 7 significant digits, and decoding rounds to 7, so the
model's 6-decimal scores come back exactly. Changing this encoding needs a new key segment in
`cache_key`. Every operation goes through the process's Redis handle (service/redis/handle.py): under a
deadline of `redis_timeout_ms`, behind its circuit breaker, on its lean pipelined client; errors and
timeouts are misses or dropped writes, never exceptions.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from model.runtime.classifier import LABELS
from service.cache.base import Scores, results_namespace
from service.cache.memory import MemoryCache
from service.metrics import CACHE_ERRORS
from service.redis.breaker import CircuitBreaker
from service.redis.handle import RedisHandle

_PACK = struct.Struct(f"<{len(LABELS)}f")
_GLOB = re.compile(r"([*?\[\]\\])")
FLUSH_BATCH = 1000


def encode(scores: Scores) -> bytes:
    return _PACK.pack(*(scores[label] for label in LABELS))


def decode(raw: bytes) -> Scores:
    """Inverse of `encode`; raises struct.error on a value of the wrong size."""
    return {label: float(f"{value:.7g}") for label, value in zip(LABELS, _PACK.unpack(raw), strict=True)}


class RedisCache:
    name = "redis"

    def __init__(
        self, redis: RedisHandle, *, prefix: str, ttl_s: int, local_entries: int = 0, owns_redis: bool = False
    ) -> None:
        """`owns_redis`: close the handle with the cache (a cache built on its own handle, see `from_url`)."""
        self.redis, self.prefix, self.ttl_s, self.owns_redis = redis, prefix, ttl_s, owns_redis
        # Hot results (a viral post, a retried export) are answered from this replica's memory without
        # a round trip, which was the largest cost of a cached request. A local copy never goes stale:
        # its key names the model version and backend, so it holds what Redis holds or held before a
        # flush, and both give the same result as recomputing.
        self.local = MemoryCache(local_entries, ttl_s) if local_entries > 0 else None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str,
        ttl_s: int,
        timeout_ms: float,
        local_entries: int = 0,
        breaker: CircuitBreaker | None = None,
    ) -> RedisCache:
        """A cache on a handle of its own, for a process that needs nothing else of Redis (a benchmark,
        a test). Raises ValueError on a malformed URL."""
        redis = RedisHandle.from_url(url, timeout_ms=timeout_ms, breaker=breaker)
        return cls(redis, prefix=prefix, ttl_s=ttl_s, local_entries=local_entries, owns_redis=True)

    @property
    def where(self) -> str:
        return self.redis.where

    async def get_many(self, keys: Sequence[str]) -> list[Scores | None]:
        if self.local is None:
            return await self._fetch(keys)
        found = await self.local.get_many(keys)
        missing = [key for key, hit in zip(keys, found, strict=True) if hit is None]
        if not missing:  # all hot: no round trip, nothing to keep
            return found
        fetched = await self._fetch(missing)
        await self.local.set_many({k: v for k, v in zip(missing, fetched, strict=True) if v is not None})
        from_redis = iter(fetched)
        return [hit if hit is not None else next(from_redis) for hit in found]

    async def _fetch(self, keys: Sequence[str]) -> list[Scores | None]:
        if not keys:
            return []
        replies = await self.redis.attempt("get", [("MGET", *keys)])
        if replies is None:
            return [None] * len(keys)
        out: list[Scores | None] = []
        for value in replies[0]:
            try:
                out.append(decode(value) if isinstance(value, bytes) else None)
            except struct.error:
                CACHE_ERRORS.labels(self.name, "decode").inc()
                out.append(None)
        return out

    async def set_many(self, items: Mapping[str, Scores]) -> None:
        if not items:
            return
        if self.local is not None:
            await self.local.set_many(items)
        await self.redis.attempt("set", [("SET", k, encode(v), "EX", self.ttl_s) for k, v in items.items()])

    async def flush(self) -> int:
        """UNLINK every cached result (SCAN, never KEYS); everything else is untouched, the rate limiter's
        counters and batch jobs under the same prefix included."""
        if self.local is not None:
            await self.local.flush()
        match, cursor, removed = _GLOB.sub(r"\\\1", results_namespace(self.prefix)) + "*", 0, 0
        while True:
            page = await self.redis.attempt("flush", [("SCAN", cursor, "MATCH", match, "COUNT", FLUSH_BATCH)])
            if page is None:
                return removed
            cursor, keys = int(page[0][0]), page[0][1]
            if keys:
                unlinked = await self.redis.attempt("flush", [("UNLINK", *keys)])
                removed += unlinked[0] if unlinked else 0
            if cursor == 0:
                return removed

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "state": "up" if self.redis.breaker.state == "closed" else "down",
            "breaker": self.redis.breaker.state,
            "where": self.where,
            "local_entries": self.local.status()["entries"] if self.local is not None else 0,
        }

    async def close(self) -> None:
        if self.local is not None:
            await self.local.close()
        if self.owns_redis:
            await self.redis.close()
