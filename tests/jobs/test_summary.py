"""A job's summary on the real Redis, built from its chunks' tallies and its timeline: it is the summary
by definition, the memory it takes does not grow with the job, and a chunk committed without a tally
(by a worker of an earlier version, mid-deploy) has it rebuilt from its rows."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import redis
from litestar.testing import AsyncTestClient

from service.jobs.summary import Post, posts_of, timeline
from service.jobs.tasks import ChunkRunner
from service.settings import Settings
from tests.jobs.conftest import REDIS_URL, Client, jobs_app, ndjson, results, submit
from tests.jobs.test_api import run_chunk, runner
from tests.jobs.test_rows import reference_summary

START = datetime(2024, 5, 1, tzinfo=UTC)


def rows_for(count: int) -> list[dict[str, Any]]:
    """The same 20 authors however many rows; user3 leaves a few posts untimed, every 7th has no author,
    every 5th opens with a handle (a reply)."""
    rows: list[dict[str, Any]] = []
    for i in range(count):
        text = f"post {i} about the garden" if i % 5 else f"@friend{i % 3} post {i} about the garden"
        row: dict[str, Any] = {"id": i, "text": text}
        if i % 7:
            row["author"] = f"user{i % 20}"
            if i % 20 != 3 or i % 9:
                row["created_at"] = (START + timedelta(minutes=(i * 7919) % 50_000)).isoformat()
        rows.append(row)
    return rows


async def scored(client: Client, chunk_runner: ChunkRunner, rows: list[dict[str, Any]]) -> str:
    job_id = await submit(client, ndjson(rows))
    chunks = (await client.get(f"/v1/jobs/{job_id}")).json()["progress"]["chunks_total"]
    for n in range(chunks):
        await run_chunk(chunk_runner, job_id, n)
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["state"] == "succeeded"
    return job_id


async def expected(client: Client, job_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    labels = [r["label"] for r in await results(client, job_id)]
    posts = []
    for line, (row, label) in enumerate(zip(rows, labels, strict=True), start=1):
        ts = datetime.fromisoformat(row["created_at"]).timestamp() if "created_at" in row else None
        reply = "author" in row and row["text"].startswith("@")
        posts.append(Post(line, row.get("author"), ts, label, reply))
    summary: dict[str, Any] = msgspec.to_builtins(reference_summary(posts))
    return summary


async def finalize_peak(chunk_runner: ChunkRunner, job_id: str) -> int:
    """Peak Python memory of summarising the job again (finalize is idempotent)."""
    tracemalloc.start()
    try:
        await chunk_runner.finalize(job_id)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_the_summary_is_the_definition_in_memory_that_does_not_grow_with_the_job(
    job_settings: Settings,
) -> None:
    settings = replace(job_settings, job_chunk_size=500)
    chunk_runner = runner(settings)
    async with AsyncTestClient(jobs_app(settings)) as client:
        peaks = []
        for count in (2_000, 20_000):
            rows = rows_for(count)
            job_id = await scored(client, chunk_runner, rows)
            summary = (await client.get(f"/v1/jobs/{job_id}/summary")).json()
            assert summary == await expected(client, job_id, rows)
            assert len(summary["authors"]) == 20
            assert sum(a["replies"] for a in summary["authors"]) > 0
            peaks.append(await finalize_peak(chunk_runner, job_id))
            assert (await client.get(f"/v1/jobs/{job_id}/summary")).json() == summary
    small, large = peaks
    assert large < small * 1.5, f"summarising 10x the rows took {large / small:.1f}x the memory"
    await chunk_runner.store.close()


async def test_a_chunk_committed_without_a_tally_is_rebuilt_from_its_rows(job_settings: Settings) -> None:
    chunk_runner = runner(job_settings)
    store = chunk_runner.store
    rows = rows_for(230)
    async with AsyncTestClient(jobs_app(job_settings)) as client:
        job_id = await scored(client, chunk_runner, rows)
        summary = (await client.get(f"/v1/jobs/{job_id}/summary")).json()
        own_rows, own_results = await store.rows(job_id, 1), await store.chunk_results(job_id, 1)
        entries = timeline(posts_of(own_rows, own_results))
        assert entries
        # What a worker from before tallies leaves of chunk 1: its results and done marker, no more.
        with redis.Redis.from_url(REDIS_URL) as plain:
            plain.hdel(store.key(job_id, "tallies"), "1")
            assert plain.zrem(store.key(job_id, "timeline"), *entries) == len(entries)
            plain.delete(store.key(job_id, "summary"))
        assert await store.tally(job_id, 1) is None
        await chunk_runner.finalize(job_id)
        rebuilt = (await client.get(f"/v1/jobs/{job_id}/summary")).json()
        assert rebuilt == summary == await expected(client, job_id, rows)
    await store.close()
