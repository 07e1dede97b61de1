"""Per-client rate limits on /v1 (and on /admin logins), shared by every replica through Redis, never
failing a request.

A fixed window: one counter per client per aligned minute, or `window_s`
(`{prefix}:rl:{client}:{window}`), INCR and EXPIRE in one pipelined round trip. Aligned windows need
no clock agreement beyond the second and no Lua; the known cost, up to twice the limit across a
window boundary, is acceptable for abuse control.
Every request counts once, a batch included: the batch size cap and the bounded model queue (503 when
full) already bound what one request can cost.

The Redis calls go through the process's Redis handle, under the same breaker and deadline as the
result cache's. When Redis is down, slow or not
configured, the same window is counted in process: each replica then enforces the limit on its own
(a client may get up to replicas x limit), which is weaker but never turns an outage into errors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.redis.handle import RedisHandle

WINDOW_S = 60


@dataclass(frozen=True)
class Decision:
    """One request's standing in its window, as the RateLimit-* headers (IETF draft) report it."""

    limit: int
    count: int  # requests in this window, this one included
    reset_s: int  # seconds until the window ends

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit

    def headers(self) -> dict[str, str]:
        remaining = max(0, self.limit - self.count)
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.reset_s)
        return out


class RateLimiter:
    """`limit` hits per client per aligned window of `window_s` seconds (a minute for /v1), counted in
    `redis` when there is one."""

    def __init__(
        self,
        limit: int,
        prefix: str,
        clock: Callable[[], float] = time.time,
        window_s: int = WINDOW_S,
        redis: RedisHandle | None = None,
    ) -> None:
        self.limit, self.prefix, self.clock, self.window_s = limit, prefix, clock, window_s
        self.redis = redis
        self._window = -1
        self._local: dict[str, int] = {}  # this window's counts, used while Redis cannot answer

    async def hit(self, client: str) -> Decision:
        """Count one request for `client` and say whether it is within the limit."""
        now = self.clock()
        window = int(now // self.window_s)
        reset_s = max(1, math.ceil((window + 1) * self.window_s - now))
        count = await self._shared(client, window) if self.redis is not None else None
        if count is None:
            count = self._in_process(client, window)
        return Decision(self.limit, count, reset_s)

    async def _shared(self, client: str, window: int) -> int | None:
        assert self.redis is not None
        key = f"{self.prefix}:rl:{client}:{window}"
        # The key outlives the window a little: clocks differ by a second or so.
        result = await self.redis.attempt("ratelimit", [("INCR", key), ("EXPIRE", key, self.window_s + 5)])
        return int(result[0]) if result else None

    def _in_process(self, client: str, window: int) -> int:
        if window != self._window:  # a new window: drop the old counts, so memory follows active clients
            self._window, self._local = window, {}
        self._local[client] = count = self._local.get(client, 0) + 1
        return count
