"""/v1/jobs: submit a file of posts for asynchronous labelling, follow it, and fetch its results.

The upload is parsed while it streams in and written to Redis chunk by chunk, so the API's memory
does not grow with the file; workers (`dialogic worker`) do the scoring. Results and errors are
streamed back as NDJSON in input order; the summary is also served as an HTML report (service/report/),
with example posts only when asked for. Register with `plugins=[JobsPlugin(settings)]`: the plugin
adds the controller, and opens and closes the job store with the app.

A job belongs to the API key that submitted it (its id, never the key): any other key gets the same
404 as for a job that does not exist. While Redis does not answer, every endpoint gives a 503 problem
with Retry-After, and the store reconnects by itself when Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, Router, delete, get, post
from litestar.config.app import AppConfig
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter
from litestar.plugins import InitPluginProtocol
from litestar.response import Stream
from redis import exceptions as redis_errors

from service.errors import UNSUPPORTED_MEDIA_TYPE, ProblemKind, problem_responses
from service.jobs.examples import AccountExamples, ExamplePicker
from service.jobs.rows import FORMATS, NDJSON, UploadError, parser_for
from service.jobs.store import OPEN, ChunkMissing, JobStatus, JobStore, State
from service.jobs.summary import JobSummary
from service.openapi import JobUpload, ProblemsOnly, example, v1_security
from service.redis.handle import RedisHandle
from service.report import MAX_EXAMPLES
from service.report.page import render
from service.security import caller_key
from service.settings import Settings

JOB_NOT_FOUND = ProblemKind(404, "job-not-found", "Job not found")
JOB_NOT_FINISHED = ProblemKind(409, "job-not-finished", "Job not finished")
JOB_FINISHED = ProblemKind(409, "job-finished", "Job already finished")
JOB_FAILED = ProblemKind(409, "job-failed", "Job failed")
JOB_CANCELLED = ProblemKind(409, "job-cancelled", "Job cancelled")
UPLOAD_TOO_LARGE = ProblemKind(413, "upload-too-large", "Upload too large")
INVALID_UPLOAD = ProblemKind(422, "invalid-upload", "Invalid upload")
JOBS_UNAVAILABLE = ProblemKind(503, "jobs-unavailable", "Batch jobs unavailable")
BASE = "/v1/jobs"
READ_PROBLEMS = problem_responses(401, 404, 429, 503)
DONE_PROBLEMS = problem_responses(401, 404, 409, 429, 503)
# The report holds a tenant's figures (and posts, with examples): nothing it may load, nowhere it may go.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}
OPEN_OWNER = "open"  # the owner of jobs submitted while /v1 takes no key: no key ever sees them
# Redis errors that mean "not now" (down, frozen, full, a replica mid-failover), not a bug: 503.
STORE_DOWN = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.OutOfMemoryError,
    redis_errors.ReadOnlyError,
)
STORE_RETRY_AFTER_S = 5
HEALTH_TIMEOUT_S = 0.5
log = logging.getLogger("dialogic.jobs")


NO_WORKER = (
    "no worker is alive, so nothing is scored until one starts: run `dialogic worker` with the "
    "same DIALOGIC_REDIS_URL and DIALOGIC_CACHE_PREFIX as the API"
)


class JobView(JobStatus, kw_only=True):
    links: dict[str, str]
    workers: int  # workers alive for this deployment's queue (heartbeat within the last 15 s)
    hint: str | None = None  # what to do about a job that cannot progress


class Jobs:
    """What the controller needs for one request: the store, the upload settings, and the caller
    (`owner`), whose jobs are the only ones it finds."""

    def __init__(self, store: JobStore, settings: Settings, owner: str) -> None:
        self.store, self.settings, self.owner = store, settings, owner

    async def status(self, job_id: str) -> JobStatus:
        status = await self.store.status(job_id, self.owner)
        if status is None:
            raise JOB_NOT_FOUND.exception(f"There is no job {job_id}; jobs expire after their TTL.")
        return status

    async def succeeded(self, job_id: str) -> JobStatus:
        """The job's status once it succeeded with every result still there; a failed job says why,
        since waiting will not help. A succeeded job whose results are gone fails here, for good."""
        status = await self.status(job_id)
        if status.state == State.SUCCEEDED:
            missing = await self.store.missing_results(job_id, status.progress.chunks_total)
            if missing is not None:
                status = await self._lost(job_id, missing)
        if status.state == State.FAILED:
            raise JOB_FAILED.exception(f"The job failed, so it has no results: {status.failure}.")
        if status.state == State.CANCELLED:
            raise JOB_CANCELLED.exception("The job was cancelled, so it has no results; submit it again.")
        if status.state != State.SUCCEEDED:
            raise JOB_NOT_FINISHED.exception(f"The job is {status.state}; this is ready once it succeeds.")
        return status

    async def results(self, job_id: str) -> AsyncIterator[bytes]:
        """The results of a succeeded job, a chunk at a time. A chunk lost while they stream fails the
        job and cuts the stream, so that a client never takes a partial answer for a whole one."""
        status = await self.succeeded(job_id)

        async def lines() -> AsyncIterator[bytes]:
            for n in range(status.progress.chunks_total):
                try:
                    chunk = await self.store.chunk_results(job_id, n)
                except ChunkMissing as exc:
                    await self._lost(job_id, exc)
                    raise
                yield _lines.encode_lines(chunk)

        return lines()

    async def summary(self, job_id: str) -> JobSummary:
        await self.succeeded(job_id)
        summary = await self.store.summary(job_id)
        if summary is None:
            raise JOB_NOT_FOUND.exception(f"The summary of job {job_id} has expired.")
        return summary

    async def examples(self, job_id: str, summary: JobSummary, per_label: int) -> list[AccountExamples]:
        """Up to `per_label` example posts per account and label, read from the job's own rows and results a
        chunk at a time; a chunk gone from Redis fails the job, as for the results."""
        status = await self.succeeded(job_id)
        picker = ExamplePicker(per_label)
        for n in range(status.progress.chunks_total):
            try:
                picker.add(await self.store.rows(job_id, n), await self.store.chunk_results(job_id, n))
            except ChunkMissing as exc:
                await self._lost(job_id, exc)
                raise JOB_FAILED.exception(f"The job failed, so it has no report: {exc}.") from None
        return picker.examples([a.author for a in summary.authors])

    async def view(self, job_id: str) -> JobView:
        """The job's status with its links, the live workers, and a hint when none is alive to score it."""
        status = await self.status(job_id)
        workers = await self.store.workers_alive()
        base = f"{BASE}/{status.id}"
        links = {
            "self": base,
            "results": f"{base}/results",
            "summary": f"{base}/summary",
            "report": f"{base}/report",
            "errors": f"{base}/errors",
        }
        hint = NO_WORKER if workers == 0 and status.state in OPEN else None
        return JobView(**msgspec.structs.asdict(status), links=links, workers=workers, hint=hint)

    async def _lost(self, job_id: str, missing: ChunkMissing) -> JobStatus:
        await self.store.fail(job_id, str(missing), State.SUCCEEDED)
        log.warning("job results lost", extra={"event": "job_failed", "job": job_id, "cause": str(missing)})
        return await self.status(job_id)


async def _limited(pieces: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for piece in pieces:
        seen += len(piece)
        if seen > limit:
            raise UPLOAD_TOO_LARGE.exception(f"The upload is larger than the limit of {limit} bytes.")
        yield piece


_lines = msgspec.json.Encoder()
JobId = Annotated[
    str,
    Parameter(
        description="The id in the submit answer's `id` and `Location`",
        examples=example("A job's id", "5f0c6a2e9b8d4c71a3e2f9d04b6c8e1a"),
    ),
]


ExampleCount = Annotated[
    int,
    Parameter(
        description=f"Example posts per account and label (0 to {MAX_EXAMPLES}); none unless asked for",
        ge=0,
        le=MAX_EXAMPLES,
        examples=example("Three of each", 3),
    ),
]


class JobsController(Controller):
    path = BASE
    tags = ["jobs"]  # noqa: RUF012  (Litestar reads this class attribute)

    @post(
        "/",
        status_code=202,
        responses=problem_responses(401, 408, 413, 415, 422, 429, 503),
        request_max_body_size=None,  # the app-wide limit is for JSON requests; _limited applies ours
        summary="Submit an NDJSON or CSV file of posts (id, text, author?, created_at?) as a job",
        operation_class=JobUpload,
    )
    async def submit(self, request: Request[Any, Any, Any], jobs: NamedDependency[Jobs]) -> Response[JobView]:
        media_type, limit = request.content_type[0], jobs.settings.max_upload_bytes
        if media_type not in FORMATS:
            raise UNSUPPORTED_MEDIA_TYPE.exception(
                f"Send {' or '.join(FORMATS)}, not {media_type or 'nothing'}."
            )
        if (request.content_length or 0) > limit:
            raise UPLOAD_TOO_LARGE.exception(f"The upload is larger than the limit of {limit} bytes.")
        parser = parser_for(media_type, jobs.settings.max_chars)
        try:
            job_id = await jobs.store.ingest(
                _limited(request.stream(), limit), parser, jobs.settings.job_chunk_size, jobs.owner
            )
        except UploadError as exc:
            raise INVALID_UPLOAD.exception(str(exc)) from None
        view = await jobs.view(job_id)
        return Response(view, status_code=202, headers={"Location": view.links["self"]})

    @get(
        "/{job_id:str}",
        summary="A job's state, progress, error count and live workers",
        responses=READ_PROBLEMS,
        operation_class=ProblemsOnly,
    )
    async def status(self, job_id: JobId, jobs: NamedDependency[Jobs]) -> JobView:
        return await jobs.view(job_id)

    @delete(
        "/{job_id:str}",
        status_code=200,
        summary="Cancel a job: chunks not yet scored never will be",
        responses=DONE_PROBLEMS,
        operation_class=ProblemsOnly,
    )
    async def cancel(self, job_id: JobId, jobs: NamedDependency[Jobs]) -> JobView:
        await jobs.status(job_id)  # the caller's job, or 404 before anything changes
        before = await jobs.store.transition(job_id, State.CANCELLED, *OPEN)
        if before in (State.SUCCEEDED, State.FAILED):
            raise JOB_FINISHED.exception(f"The job already {before}; there is nothing to cancel.")
        return await jobs.view(job_id)

    @get(
        "/{job_id:str}/results",
        summary="Results as NDJSON ({id, label, scores}), in input order",
        responses=DONE_PROBLEMS,
        media_type=NDJSON,
        response_description="One {id, label, scores} object per line, in input order",
        operation_class=ProblemsOnly,
    )
    async def results(self, job_id: JobId, jobs: NamedDependency[Jobs]) -> Stream:
        return Stream(await jobs.results(job_id), media_type=NDJSON)

    @get(
        "/{job_id:str}/errors",
        summary="Rejected lines as NDJSON ({line, reason, id?}); never the text",
        responses=READ_PROBLEMS,
        media_type=NDJSON,
        response_description="One {line, reason, id?} object per rejected line, in line order",
        operation_class=ProblemsOnly,
    )
    async def errors(self, job_id: JobId, jobs: NamedDependency[Jobs]) -> Stream:
        await jobs.status(job_id)

        async def lines() -> AsyncIterator[bytes]:
            async for page in jobs.store.errors(job_id):
                yield _lines.encode_lines(page)

        return Stream(lines(), media_type=NDJSON)

    @get(
        "/{job_id:str}/summary",
        summary="Label counts; per author: ratio, label mix, pitches, dated streaks, ratio by week or month",
        responses=DONE_PROBLEMS,
        operation_class=ProblemsOnly,
    )
    async def summary(self, job_id: JobId, jobs: NamedDependency[Jobs]) -> JobSummary:
        return await jobs.summary(job_id)

    @get(
        "/{job_id:str}/report",
        summary="The summary as an HTML page with charts; example posts only with ?examples=N",
        responses=problem_responses(400, 401, 404, 409, 429, 503),
        media_type=MediaType.HTML,
        response_description="One self-contained page (inline SVG charts, no script, no external file)",
        operation_class=ProblemsOnly,
    )
    async def report(
        self, job_id: JobId, jobs: NamedDependency[Jobs], examples: ExampleCount = 0
    ) -> Response[str]:
        summary = await jobs.summary(job_id)
        picked = await jobs.examples(job_id, summary, examples) if examples else None
        page = await asyncio.to_thread(render, summary, picked)  # a job of many accounts takes a while
        return Response(page, media_type=MediaType.HTML, headers=REPORT_HEADERS)


def _store_down(request: Request[Any, Any, Any], exc: redis_errors.RedisError) -> Response[Any]:
    log.warning("job store unavailable", extra={"event": "job_store_down", "error": type(exc).__name__})
    return JOBS_UNAVAILABLE.exception(
        "The job store (Redis) is not answering; retry shortly.",
        headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
    ).to_response(request)


class JobsPlugin(InitPluginProtocol):
    """Adds /v1/jobs to an app, the `job_store_health` dependency (for /health/ready: the store's state and
    the live workers), the `jobs_overview` one (for /admin: see JobStore.overview), and the 503 for
    a Redis that does not answer; without DIALOGIC_REDIS_URL the endpoints answer 503."""

    def __init__(self, settings: Settings, redis: RedisHandle | None = None) -> None:
        """`redis`: the app's Redis handle (None: one of the store's own, from the settings)."""
        self.settings, self.redis = settings, redis
        self.store: JobStore | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(
            Router("/", route_handlers=[JobsController], security=v1_security(self.settings))
        )
        app_config.dependencies["jobs"] = Provide(self._provide, sync_to_thread=False)
        app_config.dependencies["job_store_health"] = Provide(self._health)
        app_config.dependencies["jobs_overview"] = Provide(self._overview)
        app_config.exception_handlers.update(dict.fromkeys(STORE_DOWN, _store_down))
        app_config.on_startup.append(self._open)
        app_config.on_shutdown.append(self._close)
        return app_config

    def _open(self) -> None:
        if self.settings.redis_url:
            self.store = JobStore.from_settings(self.settings, self.redis)

    async def _close(self) -> None:
        if self.store is not None:
            await self.store.close()

    def _provide(self, request: Request[Any, Any, Any]) -> Jobs:
        if self.store is None:
            raise JOBS_UNAVAILABLE.exception(
                "Batch jobs need Redis; this deployment has no DIALOGIC_REDIS_URL."
            )
        return Jobs(self.store, self.settings, caller_key(request) or OPEN_OWNER)

    async def _health(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.store is None:
            return {"backend": None}, {"alive": None, "last_heartbeat": None}
        return await self.store.health(HEALTH_TIMEOUT_S)

    async def _overview(self) -> dict[str, Any]:
        """The jobs panel's figures: `state` is "off" without Redis, "down" when it does not answer."""
        if self.store is None:
            return {"state": "off"}
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                overview = await self.store.overview()
        except (*STORE_DOWN, TimeoutError):
            return {"state": "down"}
        return {"state": "up", **msgspec.structs.asdict(overview)}
