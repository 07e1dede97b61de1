"""`dialogic worker`: one process that loads the model once and scores job chunks from the queue.

Workers share nothing but Redis, so scaling out is starting more of them (one per CPU-limited pod):
each takes one chunk at a time, since a second concurrent chunk would only contend for the same
CPUs. They score through the same Scorer and result cache as the API, so a post already
seen by either is not recomputed. SIGTERM lets the current chunk finish within one lease.

Once its model is loaded, a worker sends a heartbeat every WORKER_BEAT_S (JobStore.beat), so the API can
tell a job that waits for a worker from one that nobody will ever pick up. SAQ's own worker info is
not used for this: it expires one second after its next renewal is due, so a busy worker flickers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from contextlib import suppress
from datetime import UTC, datetime

from redis.exceptions import RedisError
from saq.types import PartialTimersDict

from service.cache import build_cache
from service.inference.threads import model_cpus
from service.jobs.store import WORKER_BEAT_S, JobStore, WorkerInfo
from service.jobs.tasks import ChunkRunner, chunk_worker
from service.observability import configure_logging
from service.redis.handle import RedisHandle
from service.runtime import load_classifier
from service.scoring import Scorer, in_thread
from service.settings import Settings

log = logging.getLogger("dialogic.jobs")


async def serve(settings: Settings) -> None:
    """Raises redis' ConnectionError or TimeoutError at once, before the model loads, when Redis does
    not answer."""
    redis = RedisHandle.from_settings(settings)  # the worker's one Redis handle: jobs and the cache
    store = JobStore.from_settings(settings, redis)
    await store.redis.ping()
    threads = model_cpus(settings.model_cpus)  # one chunk at a time: each forward pass gets every CPU
    classifier = await asyncio.to_thread(load_classifier, settings, threads)
    cache = await build_cache(settings, redis)
    # Chunks have no client deadline: their time limit is the chunk timeout (SAQ's).
    scorer = Scorer(cache, in_thread(classifier), classifier.scores_version, settings.cache_prefix)
    runner = ChunkRunner(store, scorer)
    # SAQ's defaults, except the sweep for dead workers' chunks: twice a lease rather than every minute
    timers: PartialTimersDict = {
        "schedule": 1,
        "worker_info": 10,
        "abort": 1,
        "sweep": max(1, settings.job_lease_s // 2),
    }
    worker = chunk_worker(
        runner,
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
    beating = asyncio.create_task(
        _heartbeat(store, worker.id, runner, f"{classifier.name} {classifier.version}")
    )
    try:
        await worker.start()
    finally:
        beating.cancel()
        with suppress(asyncio.CancelledError):
            await beating
        with suppress(RedisError):
            await store.leave(worker.id)
        await cache.close()
        await store.close()
        if redis is not None:
            await redis.close()


async def _heartbeat(store: JobStore, worker_id: str, runner: ChunkRunner, model: str) -> None:
    host, pid, started = socket.gethostname(), os.getpid(), datetime.now(UTC).isoformat(timespec="seconds")
    while True:
        try:
            await store.beat(worker_id, WorkerInfo(host, pid, started, model, runner.chunks))
        except RedisError as exc:  # an outage: the next beat will do
            log.warning(
                "heartbeat not sent", extra={"event": "worker_heartbeat", "error": type(exc).__name__}
            )
        await asyncio.sleep(WORKER_BEAT_S)


def main(settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0
