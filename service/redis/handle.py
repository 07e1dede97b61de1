"""The process's one handle on Redis: its clients, the circuit breaker and the deadlines, built once.

The app factory (and a job worker, and local scoring) builds it from the settings and hands it to
whatever shares Redis: the result cache, the /v1 and /admin-login rate limits, the admin sessions and
the job store. The request path's round trips (cache, limits, sessions) go through `attempt`, on the
lean pipelined client (`resp.py`) behind one breaker and the `redis_timeout_ms` deadline, so an outage
costs them a few timeouts, never an error. The job store and SAQ use redis-py (`client`): they need its
scripts, pipelines and pub/sub, and an outage there is a 503 problem, so its commands get the longer
`job_redis_timeout_s` and reconnect on a stale connection instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as LostConnection

from service.metrics import CACHE_ERRORS, CACHE_OP_SECONDS, CACHE_SKIPPED, child
from service.redis.breaker import CircuitBreaker
from service.redis.resp import Command, Endpoint, Reply, RespClient
from service.settings import Settings

# Connecting may take DNS and a TLS handshake; every operation is still cut at its own deadline.
CONNECT_TIMEOUT_S = 1.0
# Reconnecting: a stale pooled connection (Redis restarted) fails at once; the retry opens a fresh one.
RECONNECT_ATTEMPTS = 3


class RedisHandle:
    name = "redis"  # the `backend` label of the cache metrics and the breaker's gauge

    def __init__(
        self, resp: RespClient, client: Redis, timeout_s: float, breaker: CircuitBreaker | None = None
    ) -> None:
        self.resp, self.client, self.timeout_s = resp, client, timeout_s
        self.breaker = breaker or CircuitBreaker(self.name)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_ms: float,
        jobs_timeout_s: float = 2.0,
        breaker: CircuitBreaker | None = None,
    ) -> RedisHandle:
        """No retries on the request path: the breaker decides when to try again, and a retry would double
        the worst-case latency. Raises ValueError on a malformed URL. Nothing connects until first use."""
        resp = RespClient(Endpoint.from_url(url), max(timeout_ms / 1000, CONNECT_TIMEOUT_S))
        client = Redis.from_url(
            url,
            socket_timeout=jobs_timeout_s,
            socket_connect_timeout=jobs_timeout_s,
            # Only a lost connection is retried: a timeout means Redis is not answering (503 at once).
            retry=Retry(
                ExponentialWithJitterBackoff(cap=jobs_timeout_s, base=0.05),
                RECONNECT_ATTEMPTS,
                (LostConnection,),
            ),
        )
        return cls(resp, client, timeout_ms / 1000, breaker)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisHandle | None:
        """The handle for DIALOGIC_REDIS_URL, or None when it is unset."""
        if not settings.redis_url:
            return None
        return cls.from_url(
            settings.redis_url,
            timeout_ms=settings.redis_timeout_ms,
            jobs_timeout_s=settings.job_redis_timeout_s,
        )

    @property
    def where(self) -> str:
        return self.resp.endpoint.where

    async def attempt(
        self, op: str, commands: Sequence[Command], timeout_s: float | None = None
    ) -> list[Reply] | None:
        """One round trip (`commands` in one write) behind the breaker and the deadline: the replies, or
        None when skipped or failed, so that every user on the request path degrades alike."""
        if not self.breaker.allow():
            CACHE_SKIPPED.labels(self.name, op).inc()
            return None
        start = time.perf_counter()
        try:
            replies = await self.resp.execute(commands, timeout_s or self.timeout_s)
        except asyncio.CancelledError:
            self.breaker.abandon()
            raise
        except Exception:  # any failure is a miss: Redis must never fail a request
            CACHE_ERRORS.labels(self.name, op).inc()
            self.breaker.failure()
            return None
        finally:
            child(CACHE_OP_SECONDS, self.name, op).observe(time.perf_counter() - start)
        self.breaker.success()
        return replies

    async def ping(self, timeout_s: float) -> bool:
        return bool(await self.attempt("ping", [("PING",)], timeout_s))

    async def close(self) -> None:
        await self.resp.close()
        await self.client.aclose()
