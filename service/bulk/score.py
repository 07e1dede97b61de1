"""Scoring on Ray actors: each loads the model once and labels batches of posts as the API does.

A batch goes through the service's own Scorer (normalise, cache key, texts that normalise alike
computed once, Classifier.predict, calibrated scores), with the in-process LRU the API uses without
Redis in front of the model, so a text repeated across an archive (a retweeted post) is computed
once per actor. Each actor runs single-threaded passes: one actor per CPU is the model's fastest
layout, as it is for the API's model workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pyarrow as pa
import ray.data

from model.runtime.classifier import LABELS, Prediction
from service.cache.memory import MemoryCache
from service.runtime import load_classifier
from service.scoring import Scorer
from service.settings import Settings

RESULTS = pa.schema(
    [
        ("id", pa.string()),
        ("label", pa.string()),
        ("scores", pa.struct([(label, pa.float64()) for label in LABELS])),
        ("model_version", pa.string()),
        ("author", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("file", pa.string()),
        ("line", pa.int64()),
    ]
)
PASSED_ON = ("id", "author", "created_at", "file", "line")  # from the post to its result, as they are


class ScoreBatches:
    """The callable class of `Dataset.map_batches`: Ray builds one per actor and calls it per batch
    of valid POSTS rows (service/bulk/read.py), which it turns into RESULTS rows."""

    def __init__(self, settings: Settings) -> None:
        self.classifier = load_classifier(settings, threads=1)
        cache = MemoryCache(settings.cache_size, settings.cache_ttl)
        self.scorer = Scorer(cache, self._predict, self.classifier.scores_version, settings.cache_prefix)
        self.loop = asyncio.new_event_loop()

    async def _predict(self, texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        """The actor has nothing else to do while the model runs, so it runs in the loop's thread."""
        return self.classifier.predict(texts)

    def __call__(self, batch: pa.Table) -> pa.Table:
        scored = self.loop.run_until_complete(self.scorer.score(batch["text"].to_pylist()))
        columns = {name: batch[name] for name in PASSED_ON}
        columns["label"] = pa.array([s.label for s in scored], pa.string())
        columns["scores"] = pa.array([s.scores for s in scored], RESULTS.field("scores").type)
        columns["model_version"] = pa.array([self.classifier.version] * len(scored), pa.string())
        return pa.table({name: columns[name] for name in RESULTS.names}, schema=RESULTS)


def score(posts: ray.data.Dataset, settings: Settings, actors: int, batch_rows: int) -> ray.data.Dataset:
    """RESULTS rows of valid POSTS rows, scored by a pool of `actors` actors of one CPU each. Ray
    restarts an actor that dies and retries its batch on another."""
    return posts.map_batches(
        ScoreBatches,
        fn_constructor_args=(settings,),
        batch_size=batch_rows,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=1,
    )
