from __future__ import annotations

import logging

import pytest

from service.metrics import CACHE_BREAKER_STATE
from service.redis.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def gauge(name: str) -> float:
    return CACHE_BREAKER_STATE.labels(name)._value.get()


def test_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker("t-consecutive", threshold=3, clock=Clock())
    for _ in range(2):
        breaker.failure()
    breaker.success()  # resets the count
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    assert gauge("t-consecutive") == 2


def test_half_open_single_probe_backoff_doubles_to_cap_and_resets(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    breaker = CircuitBreaker("t-backoff", threshold=1, base_backoff_s=0.5, max_backoff_s=2.0, clock=clock)
    caplog.set_level(logging.WARNING, "dialogic.cache")
    breaker.failure()
    waits = []
    for _ in range(4):  # every failed probe doubles the wait: 0.5, 1, 2, 2 (capped)
        start = clock.now
        while not breaker.allow():
            clock.now += 0.25
        waits.append(clock.now - start)
        assert breaker.state == "half_open" and gauge("t-backoff") == 1
        assert not breaker.allow()  # one probe at a time
        breaker.failure()
    assert waits == [0.5, 1.0, 2.0, 2.0]
    clock.now += 2.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and gauge("t-backoff") == 0 and breaker.backoff_s == 0.5
    changes = [
        (r.__dict__["previous_state"], r.__dict__["state"])
        for r in caplog.records
        if getattr(r, "event", "") == "cache_breaker"
    ]
    assert changes[0] == ("closed", "open") and changes[-1] == ("half_open", "closed")
    assert len(changes) == 1 + 4 * 2 + 2  # one line per state change, no more


def test_abandoned_probe_lets_the_next_call_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t-abandon", threshold=1, clock=clock)
    breaker.failure()
    clock.now += 1
    assert breaker.allow() and breaker.state == "half_open"
    breaker.abandon()
    assert breaker.allow() and breaker.state == "half_open"
