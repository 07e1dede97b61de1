"""Fixtures for the batch-job tests: the shared Redis at 127.0.0.1:6379 under a throwaway prefix
(removed afterwards), an app with only the API gate and the jobs plugin (no model load), and worker
subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.api.jobs import JobsPlugin
from service.errors import problem_details_plugin
from service.jobs.rows import NDJSON
from service.security import ApiGateMiddleware, KeyRing
from service.settings import PREFIX, Settings, env_name

REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]
Client = AsyncTestClient[Litestar]


def make_settings(**overrides: Any) -> Settings:
    """Small chunks and a short lease so that retries and kills happen within a test's time."""
    values: dict[str, Any] = dict(
        redis_url=REDIS_URL,
        cache_prefix=f"dialogic-jobtest-{uuid.uuid4().hex[:12]}",
        job_chunk_size=50,
        job_lease_s=2,
        max_chars=200,
        model_cpus=1,
        log_level="WARNING",
    )
    return Settings(**(values | overrides))


def purge(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for pattern in (f"{prefix}:*", f"saq:{prefix}:*", f"saq:job:{prefix}:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.unlink(*keys)
    client.close()


@pytest.fixture
def job_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """`make_settings()`, with overrides from an indirect parametrisation of this fixture, if any."""
    settings = make_settings(**getattr(request, "param", {}))
    yield settings
    purge(settings.cache_prefix)


def jobs_app(settings: Settings) -> Litestar:
    """/v1/jobs behind the API gate (keys from `settings.api_keys`, no rate limit), as in the service."""
    gate = ApiGateMiddleware(KeyRing.from_setting(settings.api_keys), None)
    return Litestar(plugins=[JobsPlugin(settings), problem_details_plugin()], middleware=[gate])


@pytest.fixture
async def jobs_client(job_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(jobs_app(job_settings)) as test_client:
        yield test_client


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(msgspec.json.encode(row) + b"\n" for row in rows)


async def submit(client: Client, body: bytes, content_type: str = NDJSON) -> str:
    response = await client.post("/v1/jobs", content=body, headers={"content-type": content_type})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    job_id: str = response.json()["id"]
    return job_id


async def wait_for(client: Client, job_id: str, *states: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = (await client.get(f"/v1/jobs/{job_id}")).json()
        if status["state"] in states:
            return status
        assert time.monotonic() < deadline, f"job still {status['state']}: {status['progress']}"
        await asyncio.sleep(0.2)


async def results(client: Client, job_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/jobs/{job_id}/results")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(NDJSON)
    return [msgspec.json.decode(line) for line in response.content.splitlines()]


WORKER = ("-m", "service.cli", "worker")


class WorkerProcess:
    """`dialogic worker` (as `python -m service.cli worker`), or another module given as `args`,
    configured through DIALOGIC_* variables."""

    def __init__(self, settings: Settings, log: Path, args: Sequence[str] = WORKER) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
        env |= {env_name(k): str(v) for k, v in asdict(settings).items() if v is not None and k != "extra"}
        env |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()
