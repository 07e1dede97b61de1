"""Rolling per-second figures for the admin dashboard: the last ten minutes, in this process.

Prometheus holds lifetime counters for a scraper; the dashboard answers "how is it doing right now"
without one. `WINDOW` listens to the recorder (`service.recorder`), which sees every event once, and
counts API requests (/v1), latencies, labels, micro-batches and cache outcomes into one bucket per
second. Events arrive on the event loop and on the batcher threads, hence the lock. Memory is fixed:
a ring of per-second buckets with histogram counts instead of samples, and a capped list of recent
errors that holds status, route, time and request id, never a body.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

WINDOW_S = 600
STEP_S = 10  # one sparkline point per this many seconds
TRACKED_PREFIX = "/v1/"  # the dashboard is about API traffic, not probes, scrapes or its own polling
# Latency histogram: upper bounds in ms, a factor of 2**0.25 apart (about 19 %), 0.25 ms to about 65 s.
LATENCY_BOUNDS_MS = tuple(0.25 * 2 ** (i / 4) for i in range(73))
BATCH_BINS = (1, 2, 4, 8, 16, 32, 64, 128)  # lower edges: 1, 2-3, 4-7, ..., 128+
MAX_ERRORS = 50


@dataclass
class _Second:
    t: int
    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))
    labels: Counter[str] = field(default_factory=Counter)
    batches: list[int] = field(default_factory=lambda: [0] * len(BATCH_BINS))
    cache_hits: int = 0
    cache_misses: int = 0
    queue_peak: int = 0


@dataclass(frozen=True)
class ErrorRecord:
    at: float
    status: int
    method: str
    route: str
    request_id: str


def _latency_slot(ms: float) -> int:
    if ms <= LATENCY_BOUNDS_MS[0]:
        return 0
    return min(len(LATENCY_BOUNDS_MS), math.ceil(4 * math.log2(ms / LATENCY_BOUNDS_MS[0])))


def _batch_slot(size: int) -> int:
    return min(len(BATCH_BINS) - 1, max(0, size.bit_length() - 1))


def _percentile(counts: list[int], q: float) -> float | None:
    """The upper bound of the histogram slot holding the q-quantile (an overestimate of at most 19 %)."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for slot, n in enumerate(counts):
        seen += n
        if seen >= rank:
            return LATENCY_BOUNDS_MS[min(slot, len(LATENCY_BOUNDS_MS) - 1)]
    return LATENCY_BOUNDS_MS[-1]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class RollingStats:
    def __init__(self, window_s: int = WINDOW_S, clock: Callable[[], float] = time.time) -> None:
        self.window_s, self.clock = window_s, clock
        self._ring: list[_Second | None] = [None] * window_s
        self._errors: deque[ErrorRecord] = deque(maxlen=MAX_ERRORS)
        self._lock = threading.Lock()

    def _now(self) -> _Second:
        """The current second's bucket (call with the lock held); it replaces the one a window ago."""
        t = int(self.clock())
        slot = self._ring[t % self.window_s]
        if slot is None or slot.t != t:
            slot = self._ring[t % self.window_s] = _Second(t)
        return slot

    def request(self, method: str, route: str, status: int, seconds: float, rid: str) -> None:
        if not route.startswith(TRACKED_PREFIX):
            return
        with self._lock:
            now = self._now()
            now.requests += 1
            now.latency[_latency_slot(seconds * 1000)] += 1
            if status >= 400:
                if status >= 500:
                    now.server_errors += 1
                else:
                    now.client_errors += 1
                self._errors.append(ErrorRecord(self.clock(), status, method, route, rid))

    def scored(self, labels: Iterable[str], hits: int, misses: int) -> None:
        with self._lock:
            now = self._now()
            now.labels.update(labels)
            now.cache_hits += hits
            now.cache_misses += misses

    def batch(self, size: int) -> None:
        with self._lock:
            self._now().batches[_batch_slot(size)] += 1

    def queue(self, depth: int) -> None:
        with self._lock:
            now = self._now()
            now.queue_peak = max(now.queue_peak, depth)

    def snapshot(self) -> dict[str, Any]:
        """Figures for the dashboard: tiles over the last minute (rates) or the window (mixes), series
        in STEP_S steps oldest first, recent errors newest first."""
        with self._lock:
            end = int(self.clock())
            live = [s for s in self._ring if s is not None and end - self.window_s < s.t <= end]
            errors = list(self._errors)
        steps = self.window_s // STEP_S
        series = [[s for s in live if (end - s.t) // STEP_S == steps - 1 - i] for i in range(steps)]
        minute = [s for s in live if end - s.t < 60]
        recent = [s for s in live if end - s.t < STEP_S]
        requests_min = sum(s.requests for s in minute)
        latency = [sum(col) for col in zip(*(s.latency for s in minute), strict=True)] if minute else []
        labels: Counter[str] = Counter()
        for s in live:
            labels.update(s.labels)
        batches = [sum(col) for col in zip(*(s.batches for s in live), strict=True)] if live else []
        hits, misses = sum(s.cache_hits for s in live), sum(s.cache_misses for s in live)
        per_minute: list[Counter[str]] = [Counter() for _ in range(self.window_s // 60)]
        for s in live:
            per_minute[len(per_minute) - 1 - (end - s.t) // 60].update(s.labels)
        return {
            "window_s": self.window_s,
            "step_s": STEP_S,
            "requests": {
                "window": sum(s.requests for s in live),
                "last_minute": requests_min,
                "rps": sum(s.requests for s in recent) / STEP_S,
                "rps_series": [sum(s.requests for s in step) / STEP_S for step in series],
            },
            "latency_ms": {f"p{q}": _percentile(latency, q / 100) for q in (50, 95, 99)},
            "errors": {
                "server_rate": _ratio(sum(s.server_errors for s in minute), requests_min),
                "client_rate": _ratio(sum(s.client_errors for s in minute), requests_min),
                "series": [sum(s.server_errors + s.client_errors for s in step) for step in series],
                "recent": [
                    {
                        "at": e.at,
                        "status": e.status,
                        "method": e.method,
                        "route": e.route,
                        "request_id": e.request_id,
                    }
                    for e in reversed(errors)
                ],
            },
            "queue_series": [max((s.queue_peak for s in step), default=0) for step in series],
            "batches": {
                "count": sum(batches),
                "bins": [{"label": _bin_label(i), "count": n} for i, n in enumerate(batches)],
            },
            "cache": {"hits": hits, "misses": misses, "hit_ratio": _ratio(hits, hits + misses)},
            "labels": {
                "counts": dict(labels),
                "per_minute": [dict(c) for c in per_minute],
            },
        }


def _bin_label(slot: int) -> str:
    low = BATCH_BINS[slot]
    if slot == len(BATCH_BINS) - 1:
        return f"{low}+"
    high = BATCH_BINS[slot + 1] - 1
    return str(low) if low == high else f"{low}-{high}"


WINDOW = RollingStats()
