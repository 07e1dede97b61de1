"""Cache-aware scoring: the one path from texts to results for the API, the CLI and the jobs.

normalise -> key -> one cache lookup for the distinct keys -> misses to the model -> one write-back.
Texts that normalise alike are computed once per batch, and misses already being computed for
another request are awaited rather than recomputed (single flight), so a burst of one viral post
costs one forward pass. The computation runs in its own task: a caller that gives up (timeout,
disconnect) neither cancels it for the others waiting on it nor loses the write-back.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from model.classifier import LABELS, Prediction, to_prediction
from model.normalize import normalize
from service.cache.base import ResultCache, Scores, cache_key
from service.metrics import CACHE_LOOKUPS, SCORER_COALESCED, child
from service.stats import record_scored

Predict = Callable[[Sequence[str]], Awaitable[list[Prediction]]]
Flight = asyncio.Future[dict[str, Prediction]]
# Cache keys of recently seen raw texts: a repeated text (what the cache is for) skips normalising and
# hashing, a tenth of a cached request's CPU (py-spy). Holds at most KEY_MEMO texts.
KEY_MEMO = 1024


@dataclass(frozen=True)
class Scored:
    label: str
    scores: Scores
    cached: bool


class Scorer:
    def __init__(self, cache: ResultCache, predict: Predict, model_version: str, prefix: str) -> None:
        self.cache, self.predict, self.model_version, self.prefix = cache, predict, model_version, prefix
        self._inflight: dict[str, Flight] = {}  # key -> the computation that will produce it
        self._tasks: set[asyncio.Task[None]] = set()  # strong references until each task ends
        self.key = functools.lru_cache(maxsize=KEY_MEMO)(self._key)

    def _key(self, text: str) -> str:
        return cache_key(self.prefix, self.model_version, normalize(text))

    async def score(self, texts: Sequence[str]) -> list[Scored]:
        keys = [self.key(t) for t in texts]
        unique: dict[str, str] = {}  # the first text per key (the model normalises it the same way)
        for key, text in zip(keys, texts, strict=True):
            unique.setdefault(key, text)
        results: dict[str, Scored] = {}
        flights = {k: self._inflight[k] for k in unique if k in self._inflight}
        lookup = [k for k in unique if k not in flights]
        hits = await self.cache.get_many(lookup)
        todo: dict[str, str] = {}
        for key, hit in zip(lookup, hits, strict=True):
            if hit is not None:
                prediction = to_prediction([hit[label] for label in LABELS])
                results[key] = Scored(prediction.label, prediction.scores, True)
            elif key in self._inflight:  # registered by another request while we awaited the lookup
                flights[key] = self._inflight[key]
            else:
                todo[key] = unique[key]
        backend, found = self.cache.name, len(results)
        child(CACHE_LOOKUPS, backend, "hit").inc(found)
        child(CACHE_LOOKUPS, backend, "miss").inc(len(lookup) - found)
        SCORER_COALESCED.inc(len(flights))
        if todo:
            flight: Flight = asyncio.get_running_loop().create_future()
            flight.add_done_callback(_retrieve)
            self._inflight.update(dict.fromkeys(todo, flight))
            task = asyncio.create_task(self._compute(todo, flight))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            flights.update(dict.fromkeys(todo, flight))
            await asyncio.shield(task)  # the owner returns once its results are written back
        done = {id(f): await asyncio.shield(f) for f in {id(f): f for f in flights.values()}.values()}
        for key, f in flights.items():
            prediction = done[id(f)][key]
            results[key] = Scored(prediction.label, prediction.scores, False)
        out = [results[k] for k in keys]
        record_scored([r.label for r in out], found, len(lookup) - found)
        return out

    async def _compute(self, todo: dict[str, str], flight: Flight) -> None:
        """Predict the misses, hand the results to every waiter, then write them back in one call."""
        try:
            predictions = await self.predict(list(todo.values()))
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
            if self._inflight.get(key) is flight:
                del self._inflight[key]


def _retrieve(flight: Flight) -> None:
    """Mark a failed flight's exception as seen: every waiter may have given up already."""
    if not flight.cancelled():
        flight.exception()
