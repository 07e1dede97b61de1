"""Faults through the HTTP app: a Redis restart under load fails no request (cache and rate limiter
both on a throwaway redis-server of our own; the shared one is untouched)."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from model.runtime.classifier import Classifier
from service.settings import Settings
from tests.cache.test_outage import Server
from tests.service.test_security import app_client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_redis_restart_under_load_fails_no_request(classifier: Classifier, settings: Settings) -> None:
    server = Server()
    server.start()
    try:
        with app_client(
            classifier,
            settings,
            redis_url=f"redis://127.0.0.1:{server.port}/0",
            redis_timeout_ms=100,
            rate_limit=100_000,
            cache_prefix="faults",
        ) as client:
            stop, counter, statuses = threading.Event(), itertools.count(), []

            def loop() -> None:
                while not stop.is_set():
                    n = next(counter)
                    response = client.post("/v1/classify", json={"text": f"fault post {n % 50} {n // 50}"})
                    statuses.append(response.status_code)

            with ThreadPoolExecutor(4) as pool:
                workers = [pool.submit(loop) for _ in range(4)]
                time.sleep(1.0)
                server.kill()
                time.sleep(1.0)
                server.start()  # same port: the breaker's probe finds it again
                time.sleep(1.5)
                stop.set()
                for worker in workers:
                    worker.result()
            assert statuses and set(statuses) == {200}, sorted(set(statuses))
            assert client.get("/health/ready").json()["cache"]["state"] == "up"
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()
