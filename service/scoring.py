"""Cache-aware scoring: the one path from texts to results for the API, the CLI and the jobs.

normalise -> key -> one cache lookup for the distinct keys -> misses to the model -> one write-back.
Texts that normalise alike are computed once per batch, and misses already being computed for
another request are awaited rather than recomputed (single flight), so a burst of one viral post
costs one forward pass. The computation runs in its own task: a caller that gives up (timeout,
disconnect) neither cancels it for the others waiting on it nor loses the write-back.

A caller may bring a deadline of its own (the client's X-Request-Timeout-Ms): its misses are queued
under it and dropped unscored once it passes. So that a short deadline never fails a caller with a
longer one, a computation is joined only where its deadline is no earlier than the joiner's (one
without a client deadline, the server's own limit, is joined by everyone); otherwise the text is
computed again.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from model.runtime.classifier import LABELS, Classifier, Prediction, to_prediction
from model.runtime.normalize import normalize
from service import recorder
from service.cache.base import ResultCache, Scores, cache_key

Flight = asyncio.Future[dict[str, Prediction]]
# Cache keys of recently seen raw texts: a repeated text (what the cache is for) skips normalising and
# hashing, a large share of a cached request's CPU. Holds at most KEY_MEMO texts.
KEY_MEMO = 1024


class Predict(Protocol):
    """The model behind the cache (the API's batcher, a job worker's thread). `deadline`: a
    time.monotonic() instant after which texts still queued are dropped (None: the runner's own limit)."""

    async def __call__(self, texts: Sequence[str], deadline: float | None = None) -> list[Prediction]: ...


def in_thread(classifier: Classifier, batch_size: int = 64) -> Predict:
    """The model in a worker thread, for callers that score a chunk at a time (a job worker, `dialogic
    score`): no batcher and no client deadline, the event loop free while the model runs."""

    async def predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        return await asyncio.to_thread(classifier.predict, texts, batch_size)

    return predict


@dataclass(frozen=True)
class Scored:
    label: str
    scores: Scores
    cached: bool


class Scorer:
    def __init__(self, cache: ResultCache, predict: Predict, model_version: str, prefix: str) -> None:
        self.cache, self.predict, self.model_version, self.prefix = cache, predict, model_version, prefix
        # key -> the computation that will produce it, and the client deadline it runs under
        self._inflight: dict[str, tuple[Flight, float | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # strong references until each task ends
        self.key = functools.lru_cache(maxsize=KEY_MEMO)(self._key)

    def _key(self, text: str) -> str:
        return cache_key(self.prefix, self.model_version, normalize(text))

    async def score(self, texts: Sequence[str], deadline: float | None = None) -> list[Scored]:
        """Results in input order. `deadline`: the caller's own (a time.monotonic() instant), or None."""
        keys = [self.key(t) for t in texts]
        unique: dict[str, str] = {}  # the first text per key (the model normalises it the same way)
        for key, text in zip(keys, texts, strict=True):
            unique.setdefault(key, text)
        results: dict[str, Scored] = {}
        flights = {k: f for k in unique if (f := self._joinable(k, deadline)) is not None}
        lookup = [k for k in unique if k not in flights]
        hits = await self.cache.get_many(lookup)
        todo: dict[str, str] = {}
        for key, hit in zip(lookup, hits, strict=True):
            if hit is not None:
                prediction = to_prediction([hit[label] for label in LABELS])
                results[key] = Scored(prediction.label, prediction.scores, True)
            elif (f := self._joinable(key, deadline)) is not None:  # registered while we awaited the lookup
                flights[key] = f
            else:
                todo[key] = unique[key]
        found = len(results)
        recorder.looked_up(self.cache.name, found, len(lookup) - found, len(flights))
        if todo:
            flight: Flight = asyncio.get_running_loop().create_future()
            flight.add_done_callback(_retrieve)
            self._inflight.update(dict.fromkeys(todo, (flight, deadline)))
            task = asyncio.create_task(self._compute(todo, flight, deadline))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            flights.update(dict.fromkeys(todo, flight))
            await asyncio.shield(task)  # the owner returns once its results are written back
        done = {id(f): await asyncio.shield(f) for f in {id(f): f for f in flights.values()}.values()}
        for key, f in flights.items():
            prediction = done[id(f)][key]
            results[key] = Scored(prediction.label, prediction.scores, False)
        out = [results[k] for k in keys]
        recorder.scored([r.label for r in out], found, len(lookup) - found)
        return out

    def _joinable(self, key: str, deadline: float | None) -> Flight | None:
        """The computation in flight for `key`, if waiting on it cannot fail this caller's deadline."""
        entry = self._inflight.get(key)
        if entry is None:
            return None
        flight, until = entry
        return flight if until is None or (deadline is not None and until >= deadline) else None

    async def _compute(self, todo: dict[str, str], flight: Flight, deadline: float | None) -> None:
        """Predict the misses, hand the results to every waiter, then write them back in one call."""
        try:
            predictions = await self.predict(list(todo.values()), deadline)
            fresh = dict(zip(todo, predictions, strict=True))
        except asyncio.CancelledError:  # only at shutdown: nobody cancels this task on a caller's behalf
            self._release(todo, flight)
            flight.cancel()
            raise
        except Exception as exc:  # every waiter sees the model's error
            self._release(todo, flight)
            flight.set_exception(exc)
            return
        flight.set_result(fresh)
        try:  # entries stay in flight until written, so no request recomputes them in between
            await self.cache.set_many({k: p.scores for k, p in fresh.items()})
        finally:
            self._release(todo, flight)

    def _release(self, keys: dict[str, str], flight: Flight) -> None:
        for key in keys:
            entry = self._inflight.get(key)
            if entry is not None and entry[0] is flight:  # a later computation may have taken the key
                del self._inflight[key]


def _retrieve(flight: Flight) -> None:
    """Mark a failed flight's exception as seen: every waiter may have given up already."""
    if not flight.cancelled():
        flight.exception()
