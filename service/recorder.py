"""The one place serving events are recorded: the batcher, the scorer and the request middleware call
these functions and know nothing of who reads them.

Each event goes to Prometheus (lifetime counters, for a scraper) and to every listener: the admin
dashboard's rolling window (`service.stats.WINDOW`) is one, added when the admin routes are built, so
a process that serves no dashboard (a job worker, the CLI) keeps no window. Listeners are called on
the thread that records (the event loop, or a batcher thread), so they must be thread-safe.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from litestar.types import Scope

from service.metrics import (
    BATCH_SIZE,
    CACHE_LOOKUPS,
    HTTP_REQUESTS,
    HTTP_SECONDS,
    PREDICTIONS,
    QUEUE_DEPTH,
    SCORER_COALESCED,
    TEXTS_DROPPED,
    child,
)
from service.observability import request_id


class Listener(Protocol):
    """What a reader of the events implements besides Prometheus."""

    def request(self, method: str, route: str, status: int, seconds: float, rid: str) -> None: ...

    def scored(self, labels: Iterable[str], hits: int, misses: int) -> None: ...

    def batch(self, size: int) -> None: ...

    def queue(self, depth: int) -> None: ...


_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    """Add a listener once: apps built again in one process (tests) must not count an event twice."""
    if all(listener is not known for known in _listeners):
        _listeners.append(listener)


def request(scope: Scope, status: int, seconds: float) -> None:
    """A routed request answered, by route template (never the raw path). Called by
    RequestContextMiddleware while the request id is still set."""
    method = str(scope.get("method", "GET"))
    route = scope.get("path_template") or "unrouted"
    child(HTTP_REQUESTS, method, route, str(status)).inc()
    child(HTTP_SECONDS, method, route).observe(seconds)
    rid = request_id.get()
    for listener in _listeners:
        listener.request(method, route, status, seconds, rid)


def looked_up(backend: str, hits: int, misses: int, coalesced: int) -> None:
    """One cache lookup of a call's distinct keys; `coalesced`: misses that joined a computation in
    flight instead of running the model again."""
    child(CACHE_LOOKUPS, backend, "hit").inc(hits)
    child(CACHE_LOOKUPS, backend, "miss").inc(misses)
    SCORER_COALESCED.inc(coalesced)


def scored(labels: list[str], hits: int, misses: int) -> None:
    """The results of one scoring call: a label per text, and the call's cache outcomes."""
    for label, n in Counter(labels).items():
        child(PREDICTIONS, label).inc(n)
    for listener in _listeners:
        listener.scored(labels, hits, misses)


def batch(size: int) -> None:
    """A micro-batch handed to the model."""
    BATCH_SIZE.observe(size)
    for listener in _listeners:
        listener.batch(size)


def queue(depth: int) -> None:
    """Texts waiting for a micro-batch, after a change."""
    QUEUE_DEPTH.set(depth)
    for listener in _listeners:
        listener.queue(depth)


def dropped() -> None:
    """A queued text dropped unscored: its deadline had passed, or its caller had gone."""
    TEXTS_DROPPED.inc()
