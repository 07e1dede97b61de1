"""Pick the result-cache backend from the settings.

With `redis_url` set, Redis is always the backend, even when it is down at startup: the breaker
then starts open (one warning), so requests run uncached and the replica picks Redis up by itself
when it comes back. Falling back to the in-process LRU instead would leave this replica off the
shared cache (and out of reach of a flush) until a restart. A malformed URL raises: that is a
configuration error, not an outage.
"""

from __future__ import annotations

import logging

from service.cache.base import ResultCache, Scores, cache_key
from service.cache.memory import MemoryCache
from service.cache.redis import RedisCache
from service.redis.handle import CONNECT_TIMEOUT_S, RedisHandle
from service.settings import Settings

__all__ = ["MemoryCache", "RedisCache", "ResultCache", "Scores", "build_cache", "cache_key"]
log = logging.getLogger("dialogic.cache")


async def build_cache(settings: Settings, redis: RedisHandle | None = None) -> ResultCache:
    """The cache on the process's Redis handle `redis`; without one, on a handle of its own when
    DIALOGIC_REDIS_URL is set (closed with the cache), else the in-process LRU."""
    owns = redis is None
    redis = redis or RedisHandle.from_settings(settings)
    if redis is None:
        return MemoryCache(settings.cache_size, settings.cache_ttl)
    cache = RedisCache(
        redis,
        prefix=settings.cache_prefix,
        ttl_s=settings.cache_ttl,
        local_entries=settings.cache_local_entries,
        owns_redis=owns,
    )
    if not await redis.ping(CONNECT_TIMEOUT_S):
        log.warning(
            "redis unreachable at startup; running uncached until it answers",
            extra={"event": "cache_startup", "backend": "redis", "where": redis.where, "state": "down"},
        )
        redis.breaker.trip()
    return cache
