"""Liveness (the process answers) and readiness (the model is loaded, warmed up and not draining).

An orchestrator restarts on failed liveness and only routes traffic on readiness, so liveness must not
depend on the model: a slow load must not get the pod killed. Readiness names the cache's and the job
store's state and counts the live job workers, but depends on none of them: classifying works without
Redis or workers, so an outage must not take every replica out of rotation.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency

from service.errors import NOT_READY, problem_responses
from service.runtime import Runtime
from service.schemas import Liveness, Readiness


class HealthController(Controller):
    path = "/health"
    tags = ["health"]  # noqa: RUF012

    @get("/live", summary="The process is up")
    async def live(self) -> Liveness:
        return Liveness(status="alive")

    @get(
        "/ready",
        summary="Model loaded and warmed up; 503 problem while starting or draining",
        cache_control=None,
        responses=problem_responses(503),
    )
    async def ready(
        self,
        runtime: NamedDependency[Runtime],
        job_store_health: NamedDependency[tuple[dict[str, Any], dict[str, Any]]],
    ) -> Readiness:
        classifier = runtime.classifier
        model = (
            {"loaded": True, "name": classifier.name, "version": classifier.version}
            if classifier is not None
            else {"loaded": False}
        )
        cache = runtime.cache.status() if runtime.cache is not None else {"backend": None}
        depth = runtime.batcher.queue_depth if runtime.batcher is not None else 0
        jobs, workers = job_store_health
        if runtime.phase != "ready":
            raise NOT_READY.exception(
                f"The service is {runtime.phase}.",
                model=model,
                cache=cache,
                queue_depth=depth,
                jobs=jobs,
                workers=workers,
                phase=runtime.phase,
            )
        return Readiness(
            status="ready", model=model, cache=cache, jobs=jobs, workers=workers, queue_depth=depth
        )
