"""The Litestar application: `create_app(settings)` wires settings, model, batcher, cache and routes.

Startup order matters for readiness: the app reports ready only after the model is loaded, one
forward pass has run (the first pass is several times slower: lazy allocations, kernel selection) and
the cache is built. Shutdown reverses it: not ready first, so the load balancer stops sending, then the
queued texts are finished and the cache is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide

from service import recorder
from service.api.admin import admin_sessions, login_limiter
from service.api.classify import ClassifyController
from service.api.health import HealthController
from service.api.jobs import JobsPlugin
from service.api.model_info import ModelController
from service.body import BodyMiddleware, JsonRequest
from service.cache import build_cache
from service.deadline import DeadlineMiddleware
from service.errors import problem_details_plugin
from service.inference.batcher import Batcher
from service.inference.threads import model_cpus
from service.metrics import MODEL_LOAD_SECONDS
from service.observability import RequestContextMiddleware, configure_logging
from service.openapi import openapi_config, v1_security
from service.ratelimit import RateLimiter
from service.redis.handle import RedisHandle
from service.runtime import (
    Runtime,
    load_classifier,
    provide_classifier,
    provide_runtime,
)
from service.scoring import Scorer
from service.security import ApiGateMiddleware, KeyRing
from service.settings import Settings
from service.web import WebPlugin

log = logging.getLogger("dialogic.app")
WARMUP_TEXT = "@user thanks for the quick reply, see you tomorrow!"


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    auto = model_cpus(settings.model_cpus) + 1  # one spare worker: see the Batcher docstring
    runtime.workers = settings.model_workers if settings.model_workers > 0 else auto
    started = time.perf_counter()
    classifier = await asyncio.to_thread(load_classifier, settings, 1)
    runtime.model_load_s = time.perf_counter() - started
    MODEL_LOAD_SECONDS.set(runtime.model_load_s)
    batcher = Batcher(
        classifier,
        settings.batch_max_size,
        settings.batch_max_wait_ms,
        settings.queue_size,
        settings.request_timeout_s,
        runtime.workers,
    )
    runtime.classifier, runtime.batcher = classifier, batcher
    batcher.start()
    await batcher.predict([WARMUP_TEXT])
    runtime.cache = await build_cache(settings, runtime.redis)
    runtime.scorer = Scorer(runtime.cache, batcher.predict, classifier.scores_version, settings.cache_prefix)
    runtime.phase = "ready"
    log.info(
        "ready",
        extra={
            "model": classifier.name,
            "version": classifier.version,
            "backend": classifier.backend,
            "workers": runtime.workers,
        },
    )
    try:
        yield
    finally:
        runtime.phase = "stopping"
        await batcher.stop()
        await runtime.cache.close()
        if runtime.redis is not None:
            await runtime.redis.close()
        log.info("stopped")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    # One Redis handle for everything that shares Redis (nothing connects before first use).
    redis = RedisHandle.from_settings(settings)
    limiter = (
        RateLimiter(settings.rate_limit, settings.cache_prefix, redis=redis)
        if settings.rate_limit > 0
        else None
    )
    gate = ApiGateMiddleware(KeyRing.from_setting(settings.api_keys), limiter)
    logins, sessions = login_limiter(settings, redis), admin_sessions(settings, redis)
    return Litestar(
        route_handlers=[
            HealthController,
            Router("/", route_handlers=[ClassifyController, ModelController], security=v1_security(settings)),
        ],
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "classifier": Provide(provide_classifier, sync_to_thread=False),
        },
        lifespan=[_lifespan],
        state=State({"runtime": Runtime(settings, redis=redis, limiter=limiter)}),
        # The gate and the deadline innermost: their refusals, and the body rules', get a request id and
        # are counted; the deadline inside the gate, so that its problems carry the RateLimit headers.
        middleware=[
            RequestContextMiddleware(record=recorder.request),
            BodyMiddleware(settings.body_timeout_s, settings.body_min_rate),
            gate,
            DeadlineMiddleware(settings.request_timeout_s),
        ],
        request_class=JsonRequest,
        # JobsPlugin: /v1/jobs. WebPlugin: /metrics, /admin, /static.
        plugins=[
            problem_details_plugin(),
            JobsPlugin(settings, redis),
            WebPlugin(settings, logins, sessions),
        ],
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
        openapi_config=openapi_config(settings),
    )
