"""A chunk SAQ gives up on fails its job, on the real Redis through SAQ's own retry and sweep code: for a
chunk that raises on every attempt, one that runs past its time limit, and one whose worker is SIGKILLed
on every attempt.
Either way the job ends `failed`, naming the chunk and its input lines, instead of `running` forever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from saq.job import Job, Status

from model.runtime.classifier import Prediction
from service.cache import MemoryCache
from service.jobs.store import CHUNK_ATTEMPTS, CHUNK_FUNCTION, JobStore
from service.jobs.tasks import ChunkRunner, chunk_worker
from service.scoring import Predict, Scorer
from service.settings import Settings
from tests.jobs.conftest import Client, WorkerProcess, ndjson, submit
from tests.jobs.test_api import fake_predict

STALLED_WORKER = ("-m", "tests.jobs.stalled_worker")
WAIT_S = 120.0  # for a state a stand-in worker or a sweep brings about, on a possibly loaded machine


async def assert_failed(client: Client, job_id: str, failure: str) -> None:
    status = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert status["state"] == "failed", status
    assert status["failure"] == failure
    for part in ("results", "summary"):
        response = await client.get(f"/v1/jobs/{job_id}/{part}")
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/job-failed"
        assert failure in response.json()["detail"]


@asynccontextmanager
async def failed_job(
    client: Client, settings: Settings, predict: Predict, marker: str
) -> AsyncIterator[tuple[str, JobStore]]:
    """A 120-row job whose chunk 1 (input lines 51-100) carries `marker`, run one SAQ attempt at a time
    in this process until the job is failed; yields its id and store."""
    rows = [{"id": i, "text": f"post {i}" + (f" {marker}" if 50 <= i < 100 else "")} for i in range(120)]
    store = JobStore.from_settings(settings)
    runner = ChunkRunner(store, Scorer(MemoryCache(1000, 60), predict, "fake", settings.cache_prefix))
    worker = chunk_worker(runner, dequeue_timeout=5)
    try:
        job_id = await submit(client, ndjson(rows))
        async with asyncio.timeout(60):
            while (await client.get(f"/v1/jobs/{job_id}")).json()["state"] != "failed":
                assert await worker.process(), "nothing left to run, and the job is not failed"
        yield job_id, store
    finally:
        await store.close()


async def assert_chunk_given_up(client: Client, store: JobStore, job_id: str, failure: str) -> Job:
    """Chunk 1 used every attempt and failed the job with `failure`; the other two chunks are done."""
    chunk = await store.queue.job(f"{job_id}:1")
    assert chunk is not None and chunk.status == Status.FAILED and chunk.attempts == CHUNK_ATTEMPTS
    await assert_failed(client, job_id, failure)
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["progress"]["chunks_done"] == 2
    return chunk


async def test_a_chunk_that_raises_on_every_attempt_fails_the_job(
    jobs_client: Client, job_settings: Settings
) -> None:
    async def predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        if any("poison" in text for text in texts):
            raise RuntimeError("the model refused this batch")
        return await fake_predict(texts)

    # One SAQ attempt per step: chunks 0 and 2 succeed, chunk 1 raises until SAQ gives up.
    async with failed_job(jobs_client, job_settings, predict, "poison") as (job_id, store):
        await assert_chunk_given_up(
            jobs_client,
            store,
            job_id,
            "chunk 1 (input lines 51-100) failed 3 times; the last time scoring raised RuntimeError",
        )


@pytest.mark.parametrize("job_settings", [{"job_chunk_timeout_s": 1}], indirect=True)
async def test_a_chunk_that_runs_past_its_time_limit_is_retried_then_fails_the_job(
    jobs_client: Client, job_settings: Settings
) -> None:
    calls: list[str] = []  # the model calls for the slow chunk

    async def predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        if not any("slow" in text for text in texts):
            return await fake_predict(texts)
        if not calls:  # the first attempt raises: a later time-out must not be blamed on it
            calls.append("raised")
            raise RuntimeError("the model refused this batch")
        calls.append("stalled")
        await asyncio.Event().wait()  # a model call that never returns
        raise AssertionError("unreachable")

    # SAQ cancels chunk 1 at its 1 s limit and re-queues it, like a chunk whose worker died, until it has
    # no attempt left.
    async with failed_job(jobs_client, job_settings, predict, "slow") as (job_id, store):
        # The third attempt found the second's model call still under way and waited on it (the
        # scorer's single flight): a call stuck in the model cannot be stopped, only given up on.
        assert calls == ["raised", "stalled"]
        chunk = await assert_chunk_given_up(
            jobs_client,
            store,
            job_id,
            "chunk 1 (input lines 51-100) failed 3 times; the last time it ran past the 1 s limit",
        )
        assert chunk.timeout == 1


async def saq_job(
    store: JobStore, key: str, until: Callable[[Job], bool], log: Path, sweep: bool = False
) -> Job:
    """Chunk `key`'s SAQ job once `until` holds; `sweep` runs SAQ's sweep meanwhile, as every live
    worker does on its timer (SAQ's own sweep: no code of ours runs in it; the job's status read then
    finds a chunk it gave up on).
    The deadline is generous, as only a failure waits it out; then the stand-in's `log` tells why."""
    deadline = time.monotonic() + WAIT_S
    while True:
        if sweep:
            await store.queue.sweep(lock=1, abort=0.1)
        job = await store.queue.job(key)
        if job is not None and until(job):
            return job
        if time.monotonic() > deadline:
            state = job.info() if job is not None else "missing"
            pytest.fail(f"chunk after {WAIT_S:.0f} s: {state}\nstand-in's log:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.25)


def taken(attempt: int) -> Callable[[Job], bool]:
    """A worker holds the chunk in its `attempt`th try."""
    return lambda job: job.status == Status.ACTIVE and job.attempts == attempt


async def test_a_chunk_whose_worker_dies_on_every_attempt_fails_the_job(
    jobs_client: Client, job_settings: Settings, tmp_path: Path
) -> None:
    body = b"not json\n" + ndjson([{"id": i, "text": f"post {i}"} for i in range(30)])
    store = JobStore.from_settings(job_settings)
    victims: list[WorkerProcess] = []
    try:
        job_id = await submit(jobs_client, body)
        key = f"{job_id}:0"
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            log = tmp_path / f"victim-{attempt}.log"
            victim = WorkerProcess(job_settings, log, (*STALLED_WORKER, store.queue.name, CHUNK_FUNCTION))
            victims.append(victim)
            await saq_job(store, key, taken(attempt), log)
            victim.kill()
            # The lease lapses (2 s here); a sweep then retries the chunk, or gives up after the last try.
            swept = await saq_job(store, key, lambda j: j.status != Status.ACTIVE, log, sweep=True)
            assert swept.status == (Status.ABORTED if attempt == CHUNK_ATTEMPTS else Status.QUEUED)
            if attempt < CHUNK_ATTEMPTS:  # still open (the stand-in never marks it running)
                assert (await jobs_client.get(f"/v1/jobs/{job_id}")).json()["state"] == "queued"
        await assert_failed(
            jobs_client,
            job_id,
            "chunk 0 (input lines 2-31) failed 3 times; the last time its worker stopped renewing the "
            "lease (it died or hung)",
        )
        errors = (await jobs_client.get(f"/v1/jobs/{job_id}/errors")).content.splitlines()
        assert [msgspec.json.decode(line)["line"] for line in errors] == [1]
    finally:
        for victim in victims:
            if victim.process.poll() is None:
                victim.kill()
        await store.close()
