"""Processing one chunk: the unit of work, retry and checkpoint of a batch job.

A chunk task is idempotent: it reads the chunk's stored rows, scores them through the same Scorer
(and result cache) as the API, and commits results, summary tally and done marker in one Redis
script. Running it twice, after a lease expired on a worker that was only slow, finds the chunk done
the second time and changes nothing. While it scores, a heartbeat renews the SAQ lease; a worker that
dies stops renewing, and another worker's sweep re-queues the chunk. Whichever commit completes the
job writes the summary. A chunk whose rows are gone from Redis fails its job at once: no retry can
bring them back, and scoring nothing would let the job succeed with rows missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from saq import Worker
from saq.job import Job
from saq.types import Context

from service.jobs.rows import InputRow, JobResult
from service.jobs.store import CHUNK_FUNCTION, LAST_ERROR, OPEN, ChunkMissing, JobStore, State
from service.jobs.summary import Summarizer, Tally, posts_of, timeline
from service.schemas import to_scores
from service.scoring import Scorer

log = logging.getLogger("dialogic.jobs")


class ChunkRunner:
    def __init__(self, store: JobStore, scorer: Scorer) -> None:
        self.store, self.scorer = store, scorer
        self.chunks = 0  # chunks this process scored and committed, for its heartbeat

    async def process_chunk(self, ctx: Context, *, job_id: str, chunk: int) -> int:
        """SAQ task: score chunk `chunk` of job `job_id`; returns the rows scored.

        When it raises, the exception's type (not its message, which may quote a post) is noted on the
        SAQ job, for the failure message should SAQ give up on the chunk (JobStore.chunk_ended)."""
        job = ctx["job"]
        job.meta.pop(LAST_ERROR, None)  # an earlier attempt's error, not to be blamed for a timeout now
        try:
            return await self._score(job, job_id, chunk)
        except Exception as exc:
            job.meta[LAST_ERROR] = type(exc).__name__
            raise

    async def _score(self, job: Job, job_id: str, chunk: int) -> int:
        before = await self.store.transition(job_id, State.RUNNING, State.QUEUED)
        if before not in OPEN:  # cancelled, failed, or expired: the chunk is not worth scoring
            return 0
        try:
            async with _heartbeat(job):
                rows = await self.store.rows(job_id, chunk)
                results = await score_rows(self.scorer, rows)
            posts = posts_of(rows, results)
            committed = await self.store.commit(job_id, chunk, results, Tally.of(posts), timeline(posts))
            self.chunks += committed != -1
            if committed == 1:
                await self.finalize(job_id)
        except ChunkMissing as exc:
            await self.store.fail(job_id, str(exc))
            log.warning("job failed", extra={"event": "job_failed", "job": job_id, "chunk": chunk})
            return 0
        return len(results)

    async def finalize(self, job_id: str) -> None:
        """Summarise a fully scored job from its chunks' tallies and its timeline, never holding more
        than one chunk, and mark it succeeded (idempotent, like the chunks). Raises ChunkMissing when a
        chunk it must rebuild from is gone."""
        status = await self.store.status(job_id)
        if status is None:
            return
        summarizer = Summarizer()
        for n in range(status.progress.chunks_total):
            tally = await self.store.tally(job_id, n)
            if tally is None:  # committed by a worker of an earlier version (mid-deploy): rebuild it
                posts = posts_of(await self.store.rows(job_id, n), await self.store.chunk_results(job_id, n))
                tally = Tally.of(posts)
                await self.store.add_timeline(job_id, timeline(posts))
            summarizer.add_tally(tally)
        async for page in self.store.timeline(job_id):
            summarizer.add_timeline(page)
        summary = summarizer.summary()
        if await self.store.finish(job_id, msgspec.json.encode(summary)):
            log.info("job finished", extra={"event": "job_finished", "job": job_id, "rows": summary.rows})


class ChunkWorker(Worker[Context]):
    """SAQ's worker, except that a stop cancels its upkeep timers instead of waiting out their sleep
    (SAQ's own stop waits for the longest, up to 15 s with the default lease). Timers hold no work;
    a running chunk still gets the shutdown grace period."""

    _timers: Sequence[asyncio.Task[None]] = ()

    async def upkeep(self) -> list[asyncio.Task[None]]:
        timers = await super().upkeep()
        self._timers = timers
        return timers

    async def stop(self) -> None:
        self.event.set()  # first: a timer cancelled while the event is clear would log and sleep on
        for timer in self._timers:
            timer.cancel()
        await super().stop()


def chunk_worker(runner: ChunkRunner, **options: Any) -> Worker[Context]:
    """A SAQ worker for the chunks (`options`: Worker's own). Its `after_process` hook, SAQ's documented
    one, fails the job of a chunk given up on in this worker; one given up on by a sweep is found when
    its job's status is read (JobStore.status)."""

    async def after_process(ctx: Context) -> None:
        await runner.store.chunk_ended(ctx["job"])

    return ChunkWorker(
        runner.store.queue,
        functions=[(CHUNK_FUNCTION, runner.process_chunk)],
        after_process=after_process,
        **options,
    )


async def score_rows(scorer: Scorer, rows: Sequence[InputRow]) -> list[JobResult]:
    """A chunk's results, in its rows' order: what a worker commits and `dialogic score` writes."""
    scored = await scorer.score([row.text for row in rows])
    return [JobResult(r.id, s.label, to_scores(s.scores)) for r, s in zip(rows, scored, strict=True)]


@asynccontextmanager
async def _heartbeat(job: Job) -> AsyncIterator[None]:
    """Renew the chunk's SAQ lease (its `heartbeat`, set at enqueue) three times per lease while the
    body runs; the model runs in a thread, so the event loop is free to send it."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(job.heartbeat / 3)
            await job.update()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
