"""Prometheus metrics shared by the service, defined once so every module exports the same series.

Import the objects from here rather than creating new ones: a second registration of the same name
raises at import time.

Several worker processes: set PROMETHEUS_MULTIPROC_DIR to an empty, writable directory (cleared before
the workers start) in every worker's environment. prometheus_client then keeps each process's values in
files there and `/metrics` sums them, whichever worker answers; gauges say how they combine below.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, multiprocess

CACHE_LOOKUPS = Counter(
    "dialogic_cache_lookups_total",
    "Result-cache lookups per distinct key, by outcome (hit or miss).",
    ["backend", "result"],
)
CACHE_ERRORS = Counter(
    "dialogic_cache_errors_total",
    "Cache operations that failed or timed out (served as a miss, or the write dropped).",
    ["backend", "op"],
)
CACHE_SKIPPED = Counter(
    "dialogic_cache_skipped_total",
    "Cache operations skipped because the circuit breaker is open.",
    ["backend", "op"],
)
CACHE_OP_SECONDS = Histogram(
    "dialogic_cache_op_seconds",
    "Latency of cache round trips, failures and timeouts included.",
    ["backend", "op"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
CACHE_BREAKER_STATE = Gauge(
    "dialogic_cache_breaker_state",
    "Cache circuit breaker: 0 closed, 1 half-open, 2 open.",
    ["backend"],
)
SCORER_COALESCED = Counter(
    "dialogic_scorer_coalesced_total",
    "Texts that waited on an identical in-flight computation instead of running the model again.",
)
HTTP_REQUESTS = Counter(
    "dialogic_http_requests_total",
    "HTTP requests answered, by route template (never the raw path).",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "dialogic_http_request_duration_seconds",
    "Time from request start to the end of the response body.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BATCH_SIZE = Histogram(
    "dialogic_batch_size",
    "Texts per micro-batch handed to the model.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
QUEUE_DEPTH = Gauge(
    "dialogic_queue_depth",
    "Texts waiting for a micro-batch (summed over live worker processes).",
    multiprocess_mode="livesum",
)
TEXTS_DROPPED = Counter(
    "dialogic_texts_dropped_total",
    "Queued texts dropped without being scored: their deadline had passed, or their caller had gone.",
)
MODEL_LOAD_SECONDS = Gauge(
    "dialogic_model_load_seconds",
    "How long loading the model took at startup.",
    multiprocess_mode="livemax",
)
PREDICTIONS = Counter(
    "dialogic_predictions_total",
    "Results returned, by label (cache hits included).",
    ["label"],
)


@functools.cache
def child(metric: Any, *values: str) -> Any:
    """`metric.labels(*values)`, looked up once: labels() validates and locks on every call, which showed
    in profiles of the cached path. Holds no more than the metric itself does (one child per value set)."""
    return metric.labels(*values)


def release_process() -> None:
    """In multiprocess mode, drop this process's live gauges on exit so dead workers stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())
