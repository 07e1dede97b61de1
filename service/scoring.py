"""Cache-aware scoring: the one path from texts to results for the API, the CLI and the jobs.

normalise -> cache lookup (one round trip) -> identical texts computed once -> model -> write back.
(PLACEHOLDER: the cache helper replaces this with the full version: single flight, metrics.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from model.classifier import Prediction, to_prediction
from model.normalize import normalize
from service.cache.base import ResultCache, Scores, cache_key

Predict = Callable[[Sequence[str]], Awaitable[list[Prediction]]]


@dataclass(frozen=True)
class Scored:
    label: str
    scores: Scores
    cached: bool


class Scorer:
    def __init__(self, cache: ResultCache, predict: Predict, model_version: str, prefix: str) -> None:
        self.cache, self.predict, self.model_version, self.prefix = cache, predict, model_version, prefix

    async def score(self, texts: Sequence[str]) -> list[Scored]:
        keys = [cache_key(self.prefix, self.model_version, normalize(t)) for t in texts]
        hits = await self.cache.get_many(keys)
        todo = {k: t for k, t, h in zip(keys, texts, hits, strict=True) if h is None}
        fresh = dict(zip(todo, await self.predict(list(todo.values())), strict=True)) if todo else {}
        if fresh:
            await self.cache.set_many({k: p.scores for k, p in fresh.items()})
        out = []
        for k, h in zip(keys, hits, strict=True):
            if h is not None:
                p = to_prediction([h[label] for label in ("broadcast", "conversation")])
                out.append(Scored(p.label, p.scores, True))
            else:
                out.append(Scored(fresh[k].label, fresh[k].scores, False))
        return out
