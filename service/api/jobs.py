"""/v1/jobs: submit a file of posts for asynchronous labelling, follow it, and fetch its results.

The upload is parsed while it streams in and written to Redis chunk by chunk, so the API's memory
does not grow with the file; workers (`dialogic worker`) do the scoring. Results and errors are
streamed back as NDJSON in input order. Register with `plugins=[JobsPlugin(settings)]`: the plugin
adds the controller, and opens and closes the job store with the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.config.app import AppConfig
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.plugins import InitPluginProtocol
from litestar.response import Stream

from service.errors import UNSUPPORTED_MEDIA_TYPE, ProblemKind, problem_responses
from service.jobs.rows import FORMATS, NDJSON, HeaderError, parser_for
from service.jobs.store import OPEN, JobStatus, JobStore, State
from service.jobs.summary import JobSummary
from service.settings import Settings

JOB_NOT_FOUND = ProblemKind(404, "job-not-found", "Job not found")
JOB_NOT_FINISHED = ProblemKind(409, "job-not-finished", "Job not finished")
JOB_FINISHED = ProblemKind(409, "job-finished", "Job already finished")
JOB_FAILED = ProblemKind(409, "job-failed", "Job failed")
UPLOAD_TOO_LARGE = ProblemKind(413, "upload-too-large", "Upload too large")
INVALID_UPLOAD = ProblemKind(422, "invalid-upload", "Invalid upload")
JOBS_UNAVAILABLE = ProblemKind(503, "jobs-unavailable", "Batch jobs unavailable")
BASE = "/v1/jobs"
READ_PROBLEMS = problem_responses(401, 404, 429, 503)
DONE_PROBLEMS = problem_responses(401, 404, 409, 429, 503)


class JobView(JobStatus, kw_only=True):
    links: dict[str, str]


class Jobs:
    """What the controller needs: the store and the upload settings."""

    def __init__(self, store: JobStore, settings: Settings) -> None:
        self.store, self.settings = store, settings

    async def status(self, job_id: str) -> JobStatus:
        status = await self.store.status(job_id)
        if status is None:
            raise JOB_NOT_FOUND.exception(f"There is no job {job_id}; jobs expire after their TTL.")
        return status

    async def succeeded(self, job_id: str) -> JobStatus:
        """The job's status once it succeeded; a failed job says why, since waiting will not help."""
        status = await self.status(job_id)
        if status.state == State.FAILED:
            raise JOB_FAILED.exception(f"The job failed, so it has no results: {status.failure}.")
        if status.state != State.SUCCEEDED:
            raise JOB_NOT_FINISHED.exception(f"The job is {status.state}; this is ready once it succeeds.")
        return status


def _view(status: JobStatus) -> JobView:
    base = f"{BASE}/{status.id}"
    links = {
        "self": base,
        "results": f"{base}/results",
        "summary": f"{base}/summary",
        "errors": f"{base}/errors",
    }
    return JobView(**msgspec.structs.asdict(status), links=links)


async def _limited(pieces: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for piece in pieces:
        seen += len(piece)
        if seen > limit:
            raise UPLOAD_TOO_LARGE.exception(f"The upload is larger than the limit of {limit} bytes.")
        yield piece


_lines = msgspec.json.Encoder()


class JobsController(Controller):
    path = BASE
    tags = ["jobs"]  # noqa: RUF012  (Litestar reads this class attribute)

    @post(
        "/",
        status_code=202,
        responses=problem_responses(401, 413, 415, 422, 429, 503),
        request_max_body_size=None,  # the app-wide limit is for JSON requests; _limited applies ours
        summary="Submit an NDJSON or CSV file of posts (id, text, author?, created_at?) as a job",
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
                _limited(request.stream(), limit), parser, jobs.settings.job_chunk_size
            )
        except HeaderError as exc:
            raise INVALID_UPLOAD.exception(str(exc)) from None
        view = _view(await jobs.status(job_id))
        return Response(view, status_code=202, headers={"Location": view.links["self"]})

    @get("/{job_id:str}", summary="A job's state, progress and error count", responses=READ_PROBLEMS)
    async def status(self, job_id: FromPath[str], jobs: NamedDependency[Jobs]) -> JobView:
        return _view(await jobs.status(job_id))

    @delete(
        "/{job_id:str}",
        status_code=200,
        summary="Cancel a job: chunks not yet scored never will be",
        responses=DONE_PROBLEMS,
    )
    async def cancel(self, job_id: FromPath[str], jobs: NamedDependency[Jobs]) -> JobView:
        before = await jobs.store.transition(job_id, State.CANCELLED, *OPEN)
        status = await jobs.status(job_id)
        if before in (State.SUCCEEDED, State.FAILED):
            raise JOB_FINISHED.exception(f"The job already {before}; there is nothing to cancel.")
        return _view(status)

    @get(
        "/{job_id:str}/results",
        summary="Results as NDJSON ({id, label, scores}), in input order",
        responses=DONE_PROBLEMS,
    )
    async def results(self, job_id: FromPath[str], jobs: NamedDependency[Jobs]) -> Stream:
        status = await jobs.succeeded(job_id)

        async def lines() -> AsyncIterator[bytes]:
            for n in range(status.progress.chunks_total):
                yield _lines.encode_lines(await jobs.store.chunk_results(job_id, n))

        return Stream(lines(), media_type=NDJSON)

    @get(
        "/{job_id:str}/errors",
        summary="Rejected lines as NDJSON ({line, reason, id?}); never the text",
        responses=READ_PROBLEMS,
    )
    async def errors(self, job_id: FromPath[str], jobs: NamedDependency[Jobs]) -> Stream:
        await jobs.status(job_id)

        async def lines() -> AsyncIterator[bytes]:
            async for page in jobs.store.errors(job_id):
                yield _lines.encode_lines(page)

        return Stream(lines(), media_type=NDJSON)

    @get(
        "/{job_id:str}/summary",
        summary="Label counts and per-author broadcast ratios and streaks",
        responses=DONE_PROBLEMS,
    )
    async def summary(self, job_id: FromPath[str], jobs: NamedDependency[Jobs]) -> JobSummary:
        await jobs.succeeded(job_id)
        summary = await jobs.store.summary(job_id)
        if summary is None:
            raise JOB_NOT_FOUND.exception(f"The summary of job {job_id} has expired.")
        return summary


class JobsPlugin(InitPluginProtocol):
    """Adds /v1/jobs to an app; without DIALOGIC_REDIS_URL its endpoints answer 503."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs: Jobs | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(JobsController)
        app_config.dependencies["jobs"] = Provide(self._provide, sync_to_thread=False)
        app_config.on_startup.append(self._open)
        app_config.on_shutdown.append(self._close)
        return app_config

    def _open(self) -> None:
        if self.settings.redis_url:
            self.jobs = Jobs(JobStore.from_settings(self.settings), self.settings)

    async def _close(self) -> None:
        if self.jobs is not None:
            await self.jobs.store.close()

    def _provide(self) -> Jobs:
        if self.jobs is None:
            raise JOBS_UNAVAILABLE.exception(
                "Batch jobs need Redis; this deployment has no DIALOGIC_REDIS_URL."
            )
        return self.jobs
