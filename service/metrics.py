"""Prometheus metrics shared by the service, defined once so every module exports the same series.

Import the objects from here rather than creating new ones: a second registration of the same name
raises at import time.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CACHE_LOOKUPS = Counter(
    "dialogic_cache_lookups_total", "Result-cache lookups per distinct key, by outcome (hit or miss).",
    ["backend", "result"],
)
CACHE_ERRORS = Counter(
    "dialogic_cache_errors_total",
    "Cache operations that failed or timed out (served as a miss, or the write dropped).",
    ["backend", "op"],
)
CACHE_SKIPPED = Counter(
    "dialogic_cache_skipped_total", "Cache operations skipped because the circuit breaker is open.",
    ["backend", "op"],
)
CACHE_OP_SECONDS = Histogram(
    "dialogic_cache_op_seconds", "Latency of cache round trips, failures and timeouts included.",
    ["backend", "op"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
CACHE_BREAKER_STATE = Gauge(
    "dialogic_cache_breaker_state", "Cache circuit breaker: 0 closed, 1 half-open, 2 open.", ["backend"],
)
SCORER_COALESCED = Counter(
    "dialogic_scorer_coalesced_total",
    "Texts that waited on an identical in-flight computation instead of running the model again.",
)
