"""The job store through a Redis outage, on a throwaway redis-server of our own (the shared one is
untouched), with the service on a real socket: while Redis is frozen or gone every jobs endpoint answers
a fast 503 problem with Retry-After, and /health/ready says so; the first request once Redis is back
succeeds; an upload cut off by the outage leaves nothing that outlives its lease."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from model.runtime.classifier import Classifier
from service.jobs.rows import NDJSON
from service.jobs.store import UPLOAD_LEASE_S
from service.settings import Settings
from tests.cache.test_outage import Server
from tests.jobs.conftest import ndjson
from tests.live import live_app
from tests.service.test_api import assert_problem

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
FAST_S = 4.0  # the old 5 s socket timeout (or none) is slower; generous for a busy machine
ROWS = [{"id": i, "text": f"post {i} of the outage test"} for i in range(400)]
ENDPOINTS = [("GET", ""), ("GET", "/results"), ("GET", "/summary"), ("GET", "/errors"), ("DELETE", "")]


@pytest.fixture
def redis_server() -> Iterator[Server]:
    with Server.running() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"dialogic-outage-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def http(
    classifier: Classifier, settings: Settings, redis_server: Server, prefix: str
) -> Iterator[httpx.Client]:
    with (
        live_app(
            classifier,
            settings,
            redis_url=f"redis://127.0.0.1:{redis_server.port}/0",
            cache_prefix=prefix,
            redis_timeout_ms=100,
            job_redis_timeout_s=0.5,
            job_chunk_size=50,
        ) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def submit(http: httpx.Client, body: bytes) -> str:
    response = http.post("/v1/jobs", content=body, headers={"content-type": NDJSON})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def assert_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503, "/problems/jobs-unavailable")
    assert int(response.headers["retry-after"]) >= 1
    assert response.elapsed.total_seconds() < FAST_S


def job_store_state(http: httpx.Client) -> str:
    ready = http.get("/health/ready")
    assert ready.status_code == 200, ready.text  # classifying works without Redis: still ready
    assert ready.elapsed.total_seconds() < FAST_S
    state: str = ready.json()["jobs"]["state"]
    return state


def test_every_jobs_endpoint_answers_503_while_redis_is_frozen(
    http: httpx.Client, redis_server: Server
) -> None:
    job_id = submit(http, ndjson(ROWS[:60]))
    assert job_store_state(http) == "up"
    redis_server.signal(signal.SIGSTOP)
    try:
        for method, path in ENDPOINTS:
            assert_unavailable(http.request(method, f"/v1/jobs/{job_id}{path}"))
        assert_unavailable(http.post("/v1/jobs", content=ndjson(ROWS[:5]), headers={"content-type": NDJSON}))
        assert job_store_state(http) == "down"
    finally:
        redis_server.signal(signal.SIGCONT)
    status = http.get(f"/v1/jobs/{job_id}")  # the first request after: answered, and with the right job
    assert status.status_code == 200 and status.json()["id"] == job_id, status.text
    assert job_store_state(http) == "up"


def test_the_first_request_after_a_redis_restart_succeeds(http: httpx.Client, redis_server: Server) -> None:
    job_id = submit(http, ndjson(ROWS[:60]))
    redis_server.kill()
    assert_unavailable(http.get(f"/v1/jobs/{job_id}"))
    redis_server.start()  # a fresh, empty server on the same port: the job went with the data
    assert_problem(http.get(f"/v1/jobs/{job_id}"), 404, "/problems/job-not-found")
    redis_server.kill()  # and with no request during the outage: the pooled connection is stale
    redis_server.start()
    assert http.get(f"/v1/jobs/{submit(http, ndjson(ROWS[:5]))}").status_code == 200


def test_an_upload_cut_off_by_the_outage_leaves_nothing_beyond_its_lease(
    http: httpx.Client, redis_server: Server, prefix: str
) -> None:
    frozen = threading.Event()

    def body() -> Iterator[bytes]:
        yield ndjson(ROWS[:200])  # four chunks, written before the outage
        time.sleep(1.0)
        redis_server.signal(signal.SIGSTOP)
        frozen.set()
        yield ndjson(ROWS[200:])

    try:
        response = http.post("/v1/jobs", content=body(), headers={"content-type": NDJSON})
    finally:
        redis_server.signal(signal.SIGCONT)
    assert frozen.is_set()
    assert_problem(response, 503, "/problems/jobs-unavailable")
    with redis.Redis(port=redis_server.port) as plain:
        keys = list(plain.scan_iter(match=f"{prefix}:job:*"))
        assert keys, "the upload wrote chunks before the outage, and could not delete them during it"
        ttls = {key.decode(): plain.ttl(key) for key in keys}
    assert all(0 < ttl <= UPLOAD_LEASE_S for ttl in ttls.values()), ttls
