"""API keys, rate limits and the request deadline, through the real app (the session's model, reused)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from redis.asyncio import Redis

from model.runtime.classifier import Classifier, Prediction
from service import app as app_module
from service.ratelimit import WINDOW_S, RateLimiter
from service.runtime import Runtime
from service.security import KeyRing, hash_key
from service.settings import Settings
from tests.service.test_api import assert_problem

REDIS_URL = "redis://127.0.0.1:6379/0"
KEYS = ("first-key-0f3a9c", "second-key-77b1e2")


@contextmanager
def app_client(classifier: Classifier, settings: Settings, **changes: Any) -> Iterator[TestClient[Litestar]]:
    """A fresh app with other settings around the already-loaded model (loading it again costs seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app_module, "load_classifier", lambda _, threads=None: classifier)
        with TestClient(app_module.create_app(replace(settings, **changes))) as client:
            yield client


@pytest.fixture(scope="module")
def keyed(classifier: Classifier, settings: Settings) -> Iterator[TestClient[Litestar]]:
    with app_client(classifier, settings, api_keys=",".join(hash_key(k) for k in KEYS)) as client:
        yield client


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "wrong"}, {"X-API-Key": hash_key(KEYS[0])}]
)  # the digest is not the key
def test_missing_or_wrong_key_is_401(keyed: TestClient[Litestar], headers: dict[str, str]) -> None:
    response = keyed.post("/v1/classify", json={"text": "hello"}, headers=headers)
    assert_problem(response, 401, "/problems/unauthorized")
    assert response.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("key", KEYS)  # rotation: old and new keys are valid at once
def test_every_listed_key_is_accepted(keyed: TestClient[Litestar], key: str) -> None:
    assert keyed.post("/v1/classify", json={"text": "hello"}, headers={"X-API-Key": key}).status_code == 200
    assert keyed.get("/v1/model", headers={"X-API-Key": key}).status_code == 200


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/schema/openapi.json"])
def test_probes_and_schema_stay_open(keyed: TestClient[Litestar], path: str) -> None:
    assert keyed.get(path).status_code == 200


@pytest.mark.parametrize("raw", ["", " , ", "plain-key", hash_key("x").upper()[:63]])
def test_keys_must_be_digests(raw: str) -> None:
    with pytest.raises(ValueError, match="DIALOGIC_API_KEYS"):
        KeyRing.from_setting(raw)


def test_keyring_names_callers_by_digest_prefix_only() -> None:
    ring = KeyRing.from_setting(f" {hash_key('a').upper()} ,{hash_key('b')}")
    assert ring is not None
    assert ring.identify("a") == f"key:{hash_key('a')[:12]}" and ring.identify("c") is None
    assert KeyRing.from_setting(None) is None


def test_hash_key_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "service.cli", "hash-key"],
        input="s3cret\n",
        text=True,
        capture_output=True,
        check=True,
    ).stdout
    assert out.strip() == hash_key("s3cret")


def test_rate_limit_per_key_with_ietf_headers(classifier: Classifier, settings: Settings) -> None:
    prefix = f"dialogic-test-{uuid.uuid4().hex[:8]}"
    with app_client(
        classifier,
        settings,
        api_keys=hash_key(KEYS[0]),
        rate_limit=3,
        redis_url=REDIS_URL,
        cache_prefix=prefix,
        redis_timeout_ms=1000,
    ) as client:
        runtime: Runtime = client.app.state.runtime
        assert runtime.limiter is not None and runtime.limiter.redis is not None  # counted in Redis
        headers = {"X-API-Key": KEYS[0]}
        answers = [client.post("/v1/classify", json={"text": f"rl {i}"}, headers=headers) for i in range(4)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
        assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
        refused = assert_problem(answers[3], 429, "/problems/rate-limited")
        assert 1 <= int(answers[3].headers["retry-after"]) <= WINDOW_S
        assert answers[3].headers["retry-after"] == answers[3].headers["ratelimit-reset"]
        assert "3 requests" in refused["detail"]
        assert client.get("/health/ready").status_code == 200  # not counted, not limited
        asyncio.run(_flush(prefix))


async def _flush(prefix: str) -> None:
    from service.cache import RedisCache

    cache = RedisCache.from_url(REDIS_URL, prefix=prefix, ttl_s=60, timeout_ms=1000)
    await cache.flush()
    await cache.close()


async def test_replicas_share_counts_through_redis() -> None:
    from service.cache import RedisCache

    prefix = f"dialogic-test-{uuid.uuid4().hex[:8]}"
    caches = [RedisCache.from_url(REDIS_URL, prefix=prefix, ttl_s=60, timeout_ms=1000) for _ in range(2)]
    replicas = [RateLimiter(5, prefix, redis=cache.redis) for cache in caches]
    try:
        counts = [(await replicas[i % 2].hit("client")).count for i in range(6)]
        assert counts == [1, 2, 3, 4, 5, 6]
    finally:
        await caches[0].flush()
        for cache in caches:
            await cache.close()


async def test_the_limiter_skips_redis_while_the_cache_breaker_is_open() -> None:
    """The limiter's round trips go through the Redis handle: an open breaker means no Redis call."""
    from service.cache import RedisCache

    prefix = f"dialogic-test-{uuid.uuid4().hex[:8]}"
    cache = RedisCache.from_url(REDIS_URL, prefix=prefix, ttl_s=60, timeout_ms=1000)
    now = [WINDOW_S * 2000 + 0.5]
    limiter = RateLimiter(5, prefix, clock=lambda: now[0], redis=cache.redis)
    try:
        assert [(await limiter.hit("client")).count for _ in range(2)] == [1, 2]
        cache.redis.breaker.trip()
        assert (await limiter.hit("client")).count == 1  # counted in process: Redis was not asked
        observer = Redis.from_url(REDIS_URL)
        assert await observer.get(f"{prefix}:rl:client:2000") == b"2"
        await observer.aclose()
    finally:
        await cache.flush()
        await cache.close()


async def test_redis_down_falls_back_to_counting_in_process() -> None:
    from service.cache import RedisCache

    dead = RedisCache.from_url("redis://127.0.0.1:1/0", prefix="x", ttl_s=60, timeout_ms=50)
    now = [WINDOW_S * 1000 + 0.5]
    limiter = RateLimiter(2, "x", clock=lambda: now[0], redis=dead.redis)
    try:
        decisions = [await limiter.hit("ip:10.0.0.1") for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert (await limiter.hit("ip:10.0.0.2")).allowed  # per client
        now[0] += WINDOW_S  # a new window starts from zero
        assert (await limiter.hit("ip:10.0.0.1")).count == 1
    finally:
        await dead.close()


def test_request_deadline_is_a_fast_503_problem(classifier: Classifier, settings: Settings) -> None:
    with app_client(classifier, settings, request_timeout_s=0.3) as client:
        runtime: Runtime = client.app.state.runtime

        async def stuck(texts: list[str], deadline: float | None = None) -> list[Any]:
            await asyncio.sleep(30)
            return []

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(runtime.scorer, "score", stuck)
            response = client.post("/v1/classify", json={"text": "never answered"})
        assert_problem(response, 503, "/problems/request-timeout")
        assert response.headers["retry-after"] == "1"
        assert response.elapsed.total_seconds() < 5


class HeldModel:
    """The real model behind a gate: the first call waits inside until `release` is set, so the texts
    queued behind it stay queued for as long as a test needs. Records every text the model scored."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier, self.scored = classifier, []
        self.inside, self.release = threading.Event(), threading.Event()

    def predict_passes(self, texts: Sequence[str]) -> Iterator[tuple[list[int], list[Prediction]]]:
        self.inside.set()
        assert self.release.wait(30), "the test never released the model"
        self.scored += texts
        return self.classifier.predict_passes(texts)


def dropped_texts(client: TestClient[Litestar]) -> float:
    found = re.search(r"^dialogic_texts_dropped_total (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert found, "the metric is exported"
    return float(found.group(1))


def test_client_deadline_drops_its_queued_texts_unscored(classifier: Classifier, settings: Settings) -> None:
    """X-Request-Timeout-Ms: a text still queued when the client's deadline passes is answered with a
    fast 503 and dropped, never scored, while the request ahead of it is unaffected."""
    late = "Deadline test: a post whose client stops waiting after 200 ms"
    with app_client(classifier, settings, model_workers=1) as client:
        runtime: Runtime = client.app.state.runtime
        assert runtime.batcher is not None
        held, dropped_before = HeldModel(classifier), dropped_texts(client)
        with pytest.MonkeyPatch.context() as mp, ThreadPoolExecutor(1) as pool:
            mp.setattr(runtime.batcher, "classifier", held)
            first = pool.submit(client.post, "/v1/classify", json={"text": "Deadline test: the post ahead"})
            assert held.inside.wait(30)  # the only model worker is busy with the first post
            started = time.monotonic()
            response = client.post(
                "/v1/classify", json={"text": late}, headers={"X-Request-Timeout-Ms": "200"}
            )
            waited = time.monotonic() - started
            held.release.set()
            assert first.result().status_code == 200
            give_up = time.monotonic() + 30
            while dropped_texts(client) == dropped_before and time.monotonic() < give_up:
                time.sleep(0.02)  # the worker reaches the late text only after the first
        body = assert_problem(response, 503)
        assert body["type"] in {"/problems/request-timeout", "/problems/timeout"}  # whichever clock fired
        assert response.headers["retry-after"] == "1"
        assert 0.2 <= waited < 5  # its own deadline, not the server's 30 s
        assert dropped_texts(client) == dropped_before + 1
        assert held.scored == ["Deadline test: the post ahead"]  # the late text never reached the model
        again = client.post("/v1/classify", json={"text": late})  # nothing was cached for it either
        assert again.status_code == 200 and again.json()["cached"] is False


@pytest.mark.parametrize("value", ["soon", "0", "-5", "1.5", "", "1e3", "1_000", "1234567890"])
def test_client_deadline_must_be_whole_milliseconds(client: TestClient[Litestar], value: str) -> None:
    response = client.post("/v1/classify", json={"text": "hello"}, headers={"X-Request-Timeout-Ms": value})
    body = assert_problem(response, 400, "/problems/invalid-request")
    assert "X-Request-Timeout-Ms" in body["detail"]


@pytest.mark.parametrize("value", ["5000", "999999999"])  # the last is beyond the server's limit
def test_a_client_deadline_that_is_met_changes_nothing(client: TestClient[Litestar], value: str) -> None:
    for path, body in (
        ("/v1/classify", {"text": f"Deadline {value!r}: our new store opens today"}),
        ("/v1/classify/batch", {"items": [{"text": f"Deadline {value!r}: thanks for the help!"}]}),
    ):
        response = client.post(path, json=body, headers={"X-Request-Timeout-Ms": value})
        assert response.status_code == 200, response.text
