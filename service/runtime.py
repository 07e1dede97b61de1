"""What the lifespan builds and the controllers use: one object in `app.state`, injected via `Provide`.

Readiness is a property of this object, so "not ready" is one rule: the dependencies that need the
model raise the same 503 problem whether the app is still starting or already draining.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, cast

from litestar.datastructures import State

from model.runtime.classifier import Backend, Classifier
from service.cache.base import ResultCache
from service.errors import NOT_READY
from service.inference.batcher import Batcher
from service.inference.threads import model_cpus
from service.ratelimit import RateLimiter
from service.redis.handle import RedisHandle
from service.scoring import Scorer
from service.settings import Settings

Phase = Literal["starting", "ready", "stopping"]


def load_classifier(settings: Settings, threads: int | None = None) -> Classifier:
    """The configured model for the API, the CLI and the job workers. `threads` per forward pass
    (default: every CPU the model may use, for callers that run one pass at a time). An unknown
    backend is refused by `Classifier.load`."""
    backend = cast(Backend, settings.model_backend)
    return Classifier.load(settings.model_dir, backend, threads or model_cpus(settings.model_cpus))


@dataclass
class Runtime:
    settings: Settings
    phase: Phase = "starting"
    classifier: Classifier | None = None
    batcher: Batcher | None = None
    cache: ResultCache | None = None
    scorer: Scorer | None = None
    redis: RedisHandle | None = None  # the process's one Redis handle (None without DIALOGIC_REDIS_URL)
    limiter: RateLimiter | None = None  # the /v1 rate limit, built with the handle
    workers: int = 0  # forward passes the batcher runs in parallel
    started_at: float = field(default_factory=time.time)  # for the admin dashboard's uptime
    model_load_s: float | None = None

    def ready(self) -> tuple[Classifier, Scorer]:
        """The model and the scorer, or the 503 problem while starting or draining."""
        if self.phase != "ready" or self.classifier is None or self.scorer is None:
            raise NOT_READY.exception(f"The service is {self.phase}.")
        return self.classifier, self.scorer


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def provide_classifier(state: State) -> Classifier:
    return provide_runtime(state).ready()[0]
