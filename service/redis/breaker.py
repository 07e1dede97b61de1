"""A circuit breaker for the Redis cache, so an outage costs a few timeouts rather than one per request.

closed -> open after `threshold` consecutive failures. While open every call is skipped (an instant
miss). After a backoff that doubles on every failed probe (0.5 s up to 30 s by default) a single
half-open probe goes through: success closes the breaker, failure re-opens it. Each state change is
one structured log line and sets the `dialogic_cache_breaker_state` gauge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

from service.metrics import CACHE_BREAKER_STATE

State = Literal["closed", "open", "half_open"]
_GAUGE: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}
log = logging.getLogger("dialogic.cache")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        threshold: int = 3,
        base_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.threshold, self.clock = name, threshold, clock
        self.base_backoff_s, self.max_backoff_s = base_backoff_s, max_backoff_s
        self.state: State = "closed"
        self.failures = 0  # consecutive failures while closed
        self.backoff_s = base_backoff_s
        self.retry_at = 0.0
        CACHE_BREAKER_STATE.labels(name).set(0)

    def allow(self) -> bool:
        """Whether to call the backend now; when the backoff has elapsed, the caller is the one probe."""
        if self.state == "closed":
            return True
        if self.state == "open" and self.clock() >= self.retry_at:
            self._move("half_open")
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        if self.state == "half_open":
            self.backoff_s = self.base_backoff_s
            self._move("closed")

    def failure(self) -> None:
        if self.state == "half_open":
            self.backoff_s = min(self.backoff_s * 2, self.max_backoff_s)
            self.trip()
        elif self.state == "closed":
            self.failures += 1
            if self.failures >= self.threshold:
                self.trip()
        # While open, failures of calls started before it opened change nothing.

    def abandon(self) -> None:
        """The probe was cancelled before it had an answer: let the next call probe again."""
        if self.state == "half_open":
            self.retry_at = self.clock()
            self._move("open")

    def trip(self) -> None:
        """Open now (also used at startup when the backend is unreachable)."""
        self.failures = 0
        self.retry_at = self.clock() + self.backoff_s
        self._move("open")

    def _move(self, new: State) -> None:
        old, self.state = self.state, new
        CACHE_BREAKER_STATE.labels(self.name).set(_GAUGE[new])
        if old != new:
            log.warning(
                "cache breaker %s -> %s",
                old,
                new,
                extra={
                    "event": "cache_breaker",
                    "backend": self.name,
                    "previous_state": old,
                    "state": new,
                    "retry_in_s": self.backoff_s if new == "open" else None,
                },
            )
