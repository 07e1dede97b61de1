"""The dashboard's rolling window with a fake clock: buckets age out, percentiles come from the
histogram, batch sizes land in power-of-two bins, errors keep ids and routes only."""

from __future__ import annotations

import pytest

from service.stats import RollingStats


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_requests_rates_and_latency(clock: Clock) -> None:
    stats = RollingStats(window_s=600, clock=clock)
    for i in range(100):
        stats.request("POST", "/v1/classify", 200, (i + 1) / 1000, f"r{i}")  # 1 .. 100 ms
    snap = stats.snapshot()
    assert snap["requests"]["window"] == snap["requests"]["last_minute"] == 100
    assert snap["requests"]["rps"] == 10.0 and snap["requests"]["rps_series"][-1] == 10.0
    p50, p99 = snap["latency_ms"]["p50"], snap["latency_ms"]["p99"]
    assert 50 <= p50 <= 50 * 1.19 and 99 <= p99 <= 100 * 1.19
    assert snap["errors"]["server_rate"] == 0.0 and snap["errors"]["recent"] == []


def test_old_seconds_age_out(clock: Clock) -> None:
    stats = RollingStats(window_s=600, clock=clock)
    stats.request("POST", "/v1/classify", 200, 0.01, "old")
    stats.scored(["broadcast", "conversation", "broadcast"], hits=1, misses=2)
    clock.now += 120
    snap = stats.snapshot()
    assert snap["requests"]["window"] == 1 and snap["requests"]["last_minute"] == 0
    assert snap["latency_ms"]["p50"] is None
    assert snap["labels"]["counts"] == {"broadcast": 2, "conversation": 1}
    assert snap["labels"]["per_minute"][-3] == {"broadcast": 2, "conversation": 1}
    assert snap["cache"]["hit_ratio"] == pytest.approx(1 / 3)
    clock.now += 600
    snap = stats.snapshot()
    assert snap["requests"]["window"] == 0 and snap["labels"]["counts"] == {}


def test_batches_queue_and_errors(clock: Clock) -> None:
    stats = RollingStats(window_s=600, clock=clock)
    for size in (1, 3, 3, 32, 300):
        stats.batch(size)
    stats.queue(7)
    stats.queue(2)
    stats.request("POST", "/v1/classify", 422, 0.002, "first")
    stats.request("POST", "/v1/classify/batch", 503, 0.002, "second")
    snap = stats.snapshot()
    bins = {b["label"]: b["count"] for b in snap["batches"]["bins"]}
    assert bins["1"] == 1 and bins["2-3"] == 2 and bins["32-63"] == 1 and bins["128+"] == 1
    assert snap["queue_series"][-1] == 7
    assert [e["request_id"] for e in snap["errors"]["recent"]] == ["second", "first"]
    assert set(snap["errors"]["recent"][0]) == {"at", "status", "method", "route", "request_id"}
    assert snap["errors"]["server_rate"] == snap["errors"]["client_rate"] == 0.5
