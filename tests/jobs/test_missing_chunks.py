"""A job never succeeds, nor serves results, with fewer results than accepted rows: on the real Redis,
with a chunk's keys removed behind the store's back, as an eviction or an early expiry would."""

from __future__ import annotations

import pytest
import redis

from service.api.jobs import JobsPlugin
from service.jobs.rows import JobResult
from service.jobs.store import JobStore
from service.jobs.summary import Tally
from service.settings import Settings
from tests.jobs.conftest import REDIS_URL, Client, ndjson, results, submit
from tests.jobs.test_api import run_chunk, runner
from tests.jobs.test_failed_chunks import assert_failed

ROWS = [{"id": i, "text": f"post number {i} about the missing chunk"} for i in range(120)]  # 3 chunks


def evict(store: JobStore, job_id: str, *parts: object) -> None:
    with redis.Redis.from_url(REDIS_URL) as plain:
        assert plain.delete(store.key(job_id, *parts)) == 1


async def test_a_chunk_whose_rows_are_gone_fails_the_job(jobs_client: Client, job_settings: Settings) -> None:
    job_id = await submit(jobs_client, ndjson(ROWS))
    chunk_runner = runner(job_settings)
    evict(chunk_runner.store, job_id, "in", 1)
    for chunk in range(3):
        await run_chunk(chunk_runner, job_id, chunk)
    await assert_failed(jobs_client, job_id, "the rows of chunk 1 are gone from Redis (evicted or expired)")
    await chunk_runner.store.close()


async def test_results_gone_after_success_fail_the_job_instead_of_serving_part(
    jobs_client: Client, job_settings: Settings
) -> None:
    job_id = await submit(jobs_client, ndjson(ROWS))
    chunk_runner = runner(job_settings)
    for chunk in range(3):
        await run_chunk(chunk_runner, job_id, chunk)
    assert len(await results(jobs_client, job_id)) == 120
    evict(chunk_runner.store, job_id, "out", 2)
    gone = await jobs_client.get(f"/v1/jobs/{job_id}/results")  # found out as the results are asked for
    assert gone.status_code == 409 and gone.json()["type"] == "/problems/job-failed"
    await assert_failed(
        jobs_client, job_id, "the results of chunk 2 are gone from Redis (evicted or expired)"
    )
    await chunk_runner.store.close()


async def test_results_lost_while_they_stream_cut_the_stream(
    jobs_client: Client, job_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before streaming passed; chunk 1 goes between it and its turn in the stream."""
    job_id = await submit(jobs_client, ndjson(ROWS))
    chunk_runner = runner(job_settings)
    for chunk in range(3):
        await run_chunk(chunk_runner, job_id, chunk)
    store = jobs_client.app.plugins.get(JobsPlugin).store
    assert store is not None
    real = store.missing_results

    async def checked_then_evicted(job: str, chunks: int) -> object:
        answer = await real(job, chunks)
        evict(store, job, "out", 1)
        return answer

    monkeypatch.setattr(store, "missing_results", checked_then_evicted)
    with pytest.raises(Exception, match="after response started"):  # the client sees the stream cut
        await jobs_client.get(f"/v1/jobs/{job_id}/results")
    monkeypatch.undo()
    await assert_failed(
        jobs_client, job_id, "the results of chunk 1 are gone from Redis (evicted or expired)"
    )
    await chunk_runner.store.close()


async def test_a_job_with_a_row_unscored_never_succeeds(jobs_client: Client, job_settings: Settings) -> None:
    """Whatever the path (here a commit of fewer results than the chunk's rows, as a worker that read
    nothing did), the job that is complete in chunks but not in rows fails with the counts."""
    job_id = await submit(jobs_client, ndjson(ROWS))
    chunk_runner = runner(job_settings)
    for chunk in (0, 2):
        await run_chunk(chunk_runner, job_id, chunk)
    nothing: list[JobResult] = []
    assert await chunk_runner.store.commit(job_id, 1, nothing, Tally(), []) == 1
    await chunk_runner.finalize(job_id)
    await assert_failed(jobs_client, job_id, "only 70 of 120 rows were scored (3 of 3 chunks)")
    await chunk_runner.store.close()
