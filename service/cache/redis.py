"""Redis result cache shared by all replicas: one MGET per lookup, one pipelined write per write-back.

Values are the probabilities in LABELS order packed as little-endian float32 (8 bytes for two
labels, against ~60 for JSON): float32 keeps 7 significant digits, and decoding rounds to 7, so the
model's 6-decimal scores come back exactly. Changing this encoding needs a new key segment in
`cache_key`. Every operation runs under a deadline of `redis_timeout_ms` and behind a circuit breaker;
errors and timeouts are misses or dropped writes, never exceptions. The round trips go through the
lean pipelined client in `resp.py`, not redis-py's pooled one, which cost 10x the event loop's CPU.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any

from model.runtime.classifier import LABELS
from service.cache.base import Scores, results_namespace
from service.cache.breaker import CircuitBreaker
from service.cache.memory import MemoryCache
from service.cache.resp import Command, Endpoint, Reply, RespClient
from service.metrics import CACHE_ERRORS, CACHE_OP_SECONDS, CACHE_SKIPPED, child

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
        client: RespClient,
        *,
        prefix: str,
        ttl_s: int,
        timeout_s: float,
        breaker: CircuitBreaker | None = None,
        local_entries: int = 0,
    ) -> None:
        self.client, self.prefix, self.ttl_s, self.timeout_s = client, prefix, ttl_s, timeout_s
        self.breaker = breaker or CircuitBreaker(self.name)
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
        breaker: CircuitBreaker | None = None,
        local_entries: int = 0,
    ) -> RedisCache:
        """No retries: the breaker decides when to try again, and a retry would double the worst-case
        latency. Raises ValueError on a malformed URL."""
        client = RespClient(Endpoint.from_url(url), max(timeout_ms / 1000, CONNECT_TIMEOUT_S))
        return cls(
            client,
            prefix=prefix,
            ttl_s=ttl_s,
            timeout_s=timeout_ms / 1000,
            breaker=breaker,
            local_entries=local_entries,
        )

    @property
    def where(self) -> str:
        return self.client.endpoint.where

    async def attempt(
        self, op: str, commands: Sequence[Command], timeout_s: float | None = None
    ) -> list[Reply] | None:
        """One round trip (`commands` in one write) behind the breaker and the deadline: the replies, or
        None when skipped or failed.

        Public so that other users of this Redis (the rate limiter) degrade under the same breaker and
        deadline as the cache, instead of each inventing its own outage handling."""
        if not self.breaker.allow():
            CACHE_SKIPPED.labels(self.name, op).inc()
            return None
        start = time.perf_counter()
        try:
            replies = await self.client.execute(commands, timeout_s or self.timeout_s)
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
        return replies

    async def ping(self, timeout_s: float) -> bool:
        return bool(await self.attempt("ping", [("PING",)], timeout_s))

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
        replies = await self.attempt("get", [("MGET", *keys)])
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
        await self.attempt("set", [("SET", k, encode(v), "EX", self.ttl_s) for k, v in items.items()])

    async def flush(self) -> int:
        """UNLINK every cached result (SCAN, never KEYS); everything else is untouched, the rate limiter's
        counters and batch jobs under the same prefix included."""
        if self.local is not None:
            await self.local.flush()
        match, cursor, removed = _GLOB.sub(r"\\\1", results_namespace(self.prefix)) + "*", 0, 0
        while True:
            page = await self.attempt("flush", [("SCAN", cursor, "MATCH", match, "COUNT", FLUSH_BATCH)])
            if page is None:
                return removed
            cursor, keys = int(page[0][0]), page[0][1]
            if keys:
                unlinked = await self.attempt("flush", [("UNLINK", *keys)])
                removed += unlinked[0] if unlinked else 0
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
        await self.client.close()
