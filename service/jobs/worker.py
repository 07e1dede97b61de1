"""`dialogic worker`: one process that loads the model once and scores job chunks from the queue.

Workers share nothing but Redis, so scaling out is starting more of them (one per CPU-limited pod):
each takes one chunk at a time, since a second concurrent chunk would only contend for the same
CPUs. They score through the same Scorer and result cache as the API, so a post already
seen by either is not recomputed. SIGTERM lets the current chunk finish within one lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from saq import Worker
from saq.types import PartialTimersDict

from model.classifier import Prediction
from service.cache import build_cache
from service.inference.threads import model_cpus
from service.jobs.store import CHUNK_FUNCTION, JobStore
from service.jobs.tasks import ChunkRunner
from service.observability import configure_logging
from service.runtime import load_classifier
from service.scoring import Scorer
from service.settings import Settings

log = logging.getLogger("dialogic.jobs")


async def serve(settings: Settings) -> None:
    threads = model_cpus(settings.model_cpus)  # one chunk at a time: each forward pass gets every CPU
    classifier = await asyncio.to_thread(load_classifier, settings, threads)

    async def predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        """Chunks have no client deadline: their time limit is the chunk timeout (SAQ's)."""
        return await asyncio.to_thread(classifier.predict, texts)

    store = JobStore.from_settings(settings)
    cache = await build_cache(settings)
    runner = ChunkRunner(store, Scorer(cache, predict, classifier.scores_version, settings.cache_prefix))
    # SAQ's defaults, except the sweep for dead workers' chunks: twice a lease rather than every minute
    timers: PartialTimersDict = {
        "schedule": 1,
        "worker_info": 10,
        "abort": 1,
        "sweep": max(1, settings.job_lease_s // 2),
    }
    worker = Worker(
        store.queue,
        functions=[(CHUNK_FUNCTION, runner.process_chunk)],
        concurrency=1,
        timers=timers,
        # Each wait for a chunk ends before the store's per-command timeout would cut it.
        dequeue_timeout=settings.job_redis_timeout_s / 2,
        shutdown_grace_period_s=settings.job_lease_s,
    )
    log.info(
        "worker ready",
        extra={
            "event": "worker_ready",
            "queue": store.queued_key,
            "threads": threads,
            "model": classifier.name,
            "version": classifier.version,
        },
    )
    try:
        await worker.start()
    finally:
        await cache.close()
        await store.close()


def main(settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0
