"""Worker subprocesses with the real model on the real Redis: a 10,000-post job matches the
synchronous path, a worker SIGKILLed mid-chunk loses nothing, and a cancel stops the work.

One shared worker serves the module (each start loads the model); the kill test runs its own victim
first, so that the chunk in flight at the kill is the victim's.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient

from model.classifier import Classifier, Prediction
from service.cache import MemoryCache
from service.jobs.remote import score_remote
from service.scoring import Scorer
from service.settings import Settings
from tests.jobs.conftest import (
    REDIS_URL,
    Client,
    WorkerProcess,
    jobs_app,
    make_settings,
    ndjson,
    purge,
    results,
    submit,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OPENERS = [
    "Thanks @{who}",
    "New post:",
    "Big news!",
    "@{who} agreed,",
    "Reminder:",
    "Honestly",
    "Q for @{who}:",
]
BODIES = [
    "our spring sale starts {when}",
    "what do you think about the new {thing}?",
    "the {thing} launch went better than expected",
    "see you at the {thing} meetup {when}",
    "read the full {thing} report at example.com/{n}",
    "I totally disagree about the {thing}, here's why",
    "can't wait for {when}",
]
THINGS = ["phone", "library", "train line", "budget", "garden", "podcast"]
WHENS = ["today", "tomorrow", "on Friday", "next week"]


def posts(count: int, distinct: int) -> list[dict[str, Any]]:
    """`count` posts drawn from `distinct` template texts, most with an author, some with a time."""
    rng = random.Random(8)
    texts = [
        f"{rng.choice(OPENERS)} {rng.choice(BODIES)}".format(
            who=rng.choice(["ann", "bo", "cy"]), thing=rng.choice(THINGS), when=rng.choice(WHENS), n=i
        )
        for i in range(distinct)
    ]
    start = datetime(2024, 5, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        row: dict[str, Any] = {"id": f"p{i}", "text": texts[i % distinct]}
        if i % 10:
            row["author"] = f"user{i % 37}"
            if i % 3:
                row["created_at"] = (start + timedelta(minutes=rng.randrange(100_000))).isoformat()
        rows.append(row)
    return rows


class Workers:
    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings, self.logs = settings, logs
        self.started: list[WorkerProcess] = []

    def start(self) -> WorkerProcess:
        worker = WorkerProcess(self.settings, self.logs / f"worker-{len(self.started)}.log")
        self.started.append(worker)
        return worker

    def shared(self) -> None:
        """The module's long-lived worker (started on first use)."""
        if not any(w.process.poll() is None for w in self.started):
            self.start()


@pytest.fixture(scope="module")
def worker_settings() -> Iterator[Settings]:
    settings = make_settings(job_chunk_size=500)
    yield settings
    purge(settings.cache_prefix)


@pytest.fixture(scope="module")
def workers(worker_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    workers = Workers(worker_settings, tmp_path_factory.mktemp("workers"))
    yield workers
    for worker in workers.started:
        if worker.process.poll() is None:
            worker.stop()


@pytest.fixture
async def api(worker_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(jobs_app(worker_settings)) as client:
        yield client


def active_chunks(settings: Settings) -> int:
    with redis.Redis.from_url(REDIS_URL) as client:
        return int(client.llen(f"saq:{settings.cache_prefix}:jobs:active"))


async def test_a_worker_killed_mid_chunk_loses_nothing(worker_settings: Settings, workers: Workers) -> None:
    rows = [{"id": i, "text": f"post {i}: what do you all think about {THINGS[i % 6]}?"} for i in range(500)]
    async with AsyncTestClient(jobs_app(replace(worker_settings, job_chunk_size=20))) as client:
        job_id = await submit(client, ndjson(rows))
        victim = workers.start()
        for _ in range(600):
            status = (await client.get(f"/v1/jobs/{job_id}")).json()
            if status["progress"]["chunks_done"] >= 3 and active_chunks(worker_settings):
                break
            await asyncio.sleep(0.1)
        victim.kill()
        assert active_chunks(worker_settings) == 1  # the victim's chunk: leased, never finished
        workers.shared()  # sweeps the expired lease and re-runs that chunk, then the rest
        status = await wait_for(client, job_id, "succeeded", timeout=180)
        assert status["progress"] == {
            "rows_done": 500,
            "rows_total": 500,
            "chunks_done": 25,
            "chunks_total": 25,
        }
        assert [r["id"] for r in await results(client, job_id)] == list(range(500))


async def test_ten_thousand_posts_match_the_synchronous_path(
    api: Client, worker_settings: Settings, workers: Workers, classifier: Classifier
) -> None:
    rows = posts(10_000, distinct=1500)
    workers.shared()
    job_id = await submit(api, ndjson(rows))

    async def predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        return await asyncio.to_thread(classifier.predict, texts)

    expected = await Scorer(MemoryCache(10_000, 60), predict, classifier.version, "sync").score(
        [r["text"] for r in rows]
    )
    await wait_for(api, job_id, "succeeded", timeout=240)
    got = await results(api, job_id)
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    assert [r["label"] for r in got] == [e.label for e in expected]
    for result, sync in zip(got, expected, strict=True):
        # equal up to one unit in the 6th decimal: batches pad differently, which moves float noise
        assert result["scores"] == pytest.approx(sync.scores, abs=2e-6)
    summary = (await api.get(f"/v1/jobs/{job_id}/summary")).json()
    assert summary["labels"] == {
        label: sum(e.label == label for e in expected) for label in ("broadcast", "conversation")
    }
    assert len(summary["authors"]) == 37
    ratios = [(a["conversation_ratio"], -a["posts"]) for a in summary["authors"]]
    assert ratios == sorted(ratios)


async def test_cancel_stops_the_work(api: Client, worker_settings: Settings, workers: Workers) -> None:
    workers.shared()
    rows = [{"id": i, "text": f"cancel me {i}, @bob what do you think?"} for i in range(2000)]
    async with AsyncTestClient(jobs_app(replace(worker_settings, job_chunk_size=25))) as client:
        job_id = await submit(client, ndjson(rows))
        await wait_for(client, job_id, "running")
        cancelled = (await client.delete(f"/v1/jobs/{job_id}")).json()
        assert cancelled["state"] == "cancelled"
        await asyncio.sleep(3)  # a chunk in flight at the cancel finishes, and is dropped
        status = (await client.get(f"/v1/jobs/{job_id}")).json()
        assert status["state"] == "cancelled"
        assert status["progress"]["chunks_done"] == cancelled["progress"]["chunks_done"] < 80
        assert (await client.get(f"/v1/jobs/{job_id}/results")).status_code == 409


def test_score_remote_submits_follows_and_downloads(
    worker_settings: Settings, workers: Workers, tmp_path: Path
) -> None:
    workers.shared()
    source, output = tmp_path / "posts.csv", tmp_path / "labels.jsonl"
    lines = ["id,text,author"] + [f'{i},"remote post {i}, thoughts @ann?",ann' for i in range(300)] + ["300"]
    source.write_text("\n".join(lines) + "\n")
    with TestClient(jobs_app(worker_settings)) as client:
        assert score_remote(client, source, output, poll_s=0.2) == 0
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == [
        str(i) for i in range(300)
    ]
    summary = json.loads((tmp_path / "labels.jsonl.summary.json").read_text())
    assert summary["rows"] == 300 and summary["authors"][0]["author"] == "ann"


def test_the_service_app_serves_jobs_and_needs_redis_for_them(client: TestClient[Litestar]) -> None:
    """create_app registers /v1/jobs; the session app has no DIALOGIC_REDIS_URL, so it answers 503."""
    response = client.get("/v1/jobs/any")
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/jobs-unavailable"
