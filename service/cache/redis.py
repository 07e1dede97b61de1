"""Redis result cache shared by all replicas: one MGET per lookup, one pipeline per write-back.

Values are the probabilities in LABELS order packed as little-endian float32 (8 bytes for two
labels, against ~60 for JSON): float32 keeps 7 significant digits, and decoding rounds to 7, so the
model's 6-decimal scores come back exactly. Changing this encoding needs a new key segment in
`cache_key`. Every operation runs under a deadline of `redis_timeout_ms` and behind a circuit breaker;
errors and timeouts are misses or dropped writes, never exceptions.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from model.classifier import LABELS
from service.cache.base import Scores, results_namespace
from service.cache.breaker import CircuitBreaker
from service.cache.memory import MemoryCache
from service.metrics import CACHE_ERRORS, CACHE_OP_SECONDS, CACHE_SKIPPED, child

T = TypeVar("T")
_PACK = struct.Struct(f"<{len(LABELS)}f")
_GLOB = re.compile(r"([*?\[\]\\])")
FLUSH_BATCH = 1000
# Connecting may take DNS and a TLS handshake; every operation is still cut at its own deadline.
CONNECT_TIMEOUT_S = 1.0


def encode(scores: Scores) -> bytes:
    return _PACK.pack(*(scores[label] for label in LABELS))


def decode(raw: bytes) -> Scores:
    """Inverse of `encode`; raises struct.error on a value of the wrong size."""
    return {label: float(f"{value:.7g}") for label, value in zip(LABELS, _PACK.unpack(raw), strict=True)}


class RedisCache:
    name = "redis"

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str,
        ttl_s: int,
        timeout_s: float,
        breaker: CircuitBreaker | None = None,
        where: str = "",
        local_entries: int = 0,
    ) -> None:
        self.client, self.prefix, self.ttl_s, self.timeout_s = client, prefix, ttl_s, timeout_s
        self.breaker = breaker or CircuitBreaker(self.name)
        self.where = where
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
        max_connections: int = 64,
        breaker: CircuitBreaker | None = None,
        local_entries: int = 0,
    ) -> RedisCache:
        """A pooled client with no retries: the breaker decides when to try again, and a retry would
        double the worst-case latency."""
        timeout_s = timeout_ms / 1000
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=max(timeout_s, CONNECT_TIMEOUT_S),
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        parts = urlsplit(url)  # host:port/db only: the URL may carry a password
        where = f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
        return cls(
            Redis(connection_pool=pool),
            prefix=prefix,
            ttl_s=ttl_s,
            timeout_s=timeout_s,
            breaker=breaker,
            where=where,
            local_entries=local_entries,
        )

    async def attempt(
        self, op: str, call: Callable[[], Awaitable[T]], timeout_s: float | None = None
    ) -> T | None:
        """Run one round trip behind the breaker and the deadline; None when skipped or failed.

        Public so that other users of this Redis (the rate limiter) degrade under the same breaker and
        deadline as the cache, instead of each inventing its own outage handling."""
        if not self.breaker.allow():
            CACHE_SKIPPED.labels(self.name, op).inc()
            return None
        start = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s or self.timeout_s):
                result = await call()
        except asyncio.CancelledError:
            self.breaker.abandon()
            raise
        except Exception:  # any failure is a miss: the cache must never fail a request
            CACHE_ERRORS.labels(self.name, op).inc()
            self.breaker.failure()
            return None
        finally:
            child(CACHE_OP_SECONDS, self.name, op).observe(time.perf_counter() - start)
        self.breaker.success()
        return result

    async def ping(self, timeout_s: float) -> bool:
        return bool(await self.attempt("ping", self.client.ping, timeout_s))

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
        raw = await self.attempt("get", lambda: self.client.mget(keys))
        if raw is None:
            return [None] * len(keys)
        out: list[Scores | None] = []
        for value in raw:
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

        async def write() -> Any:
            if len(items) == 1:  # one item (each uncached /v1/classify): a pipeline costs half as much again
                [(key, scores)] = items.items()
                return await self.client.set(key, encode(scores), ex=self.ttl_s)
            pipe = self.client.pipeline(transaction=False)
            for key, scores in items.items():
                pipe.set(key, encode(scores), ex=self.ttl_s)
            return await pipe.execute()

        await self.attempt("set", write)

    async def flush(self) -> int:
        """UNLINK every cached result (SCAN, never KEYS); everything else is untouched, the rate limiter's
        counters and batch jobs under the same prefix included."""
        if self.local is not None:
            await self.local.flush()
        match, cursor, removed = _GLOB.sub(r"\\\1", results_namespace(self.prefix)) + "*", 0, 0
        while True:
            page = await self.attempt("flush", partial(self.client.scan, cursor, match, FLUSH_BATCH))
            if page is None:
                return removed
            cursor, keys = page
            if keys:
                removed += await self.attempt("flush", partial(self.client.unlink, *keys)) or 0
            if cursor == 0:
                return removed

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "state": "up" if self.breaker.state == "closed" else "down",
            "breaker": self.breaker.state,
            "where": self.where,
            "local_entries": self.local.status()["entries"] if self.local is not None else 0,
        }

    async def close(self) -> None:
        if self.local is not None:
            await self.local.close()
        await self.client.aclose(close_connection_pool=True)
