"""Worker subprocesses with the real model on the real Redis: a 10,000-post job matches the
synchronous path, a worker SIGKILLed mid-chunk loses nothing, and a cancel stops the work.

One shared worker serves the module (each start loads the model); the kill test runs its own victim
first, so that the chunk in flight at the kill is the victim's.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
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

from model.runtime.classifier import Classifier, Prediction
from service import cli, runtime
from service.cache import MemoryCache
from service.jobs.outputs import Outputs
from service.jobs.remote import score_remote
from service.jobs.store import WORKER_BEAT_S, WORKER_GONE_S, JobStore
from service.scoring import Scorer
from service.settings import PREFIX, Settings
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
from tests.live import live_app

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
        assert score_remote(client, source, Outputs(output), poll_s=0.2) == 0
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == [
        str(i) for i in range(300)
    ]
    summary = json.loads((tmp_path / "labels.jsonl.summary.json").read_text())
    assert summary["rows"] == 300 and summary["authors"][0]["author"] == "ann"
    errors = [json.loads(line) for line in (tmp_path / "labels.jsonl.errors.jsonl").read_text().splitlines()]
    assert errors == [{"line": 302, "reason": "bad CSV row: 1 fields, the header has 3"}]


def mixed_file(kind: str) -> bytes:
    """One file with every kind of line the contract has a rule for, over several 20-row chunks: ids of
    both JSON types (1 and "1" differ), rows without an id, repeats within and across chunks, malformed
    and blank lines, bad texts and timestamps, authors with and without times."""
    start = datetime(2025, 3, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(70):
        text = f"{OPENERS[i % 7]} {BODIES[i % 5]}".format(
            who="ann", thing=THINGS[i % 6], when=WHENS[i % 4], n=i
        )
        row: dict[str, Any] = {"id": i if i % 3 else str(i), "text": text, "author": f"acct{i % 4}"}
        if i % 2:
            row["created_at"] = (start + timedelta(hours=(i * 7) % 50)).isoformat()
        rows.append(row)
    rows[5] = {"id": 4, "text": "repeats the id of the row before"}
    rows[45] = {"id": 2, "text": "a repeat from the first chunk"}
    rows[12]["text"] = "   "
    rows[13]["text"] = "x" * 201
    rows[20]["created_at"] = "last tuesday"
    rows[30].pop("id")
    if kind == "csv":
        header = ["id", "text", "author", "created_at"]
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        out.writerow(header)
        out.writerows([[str(row.get(k, "")) for k in header] for row in rows])
        return buffer.getvalue().encode() + b"1,2\n" + b'9,"never closed\n'
    lines = [json.dumps(row).encode() for row in rows]
    lines[10:10] = [b"not json", b"", b'{"id": 18446744073709551616, "text": "too big an id"}']
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_local_and_remote_scoring_write_the_same_bytes(
    kind: str,
    worker_settings: Settings,
    workers: Workers,
    classifier: Classifier,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The one contract: the same file scored here and as a job gives the same results, errors and
    summary, byte for byte, and the same report."""
    workers.shared()
    source = tmp_path / f"mixed.{kind}"
    source.write_bytes(mixed_file(kind))
    for name in [name for name in os.environ if name.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DIALOGIC_MAX_CHARS", str(worker_settings.max_chars))
    monkeypatch.setenv("DIALOGIC_JOB_CHUNK_SIZE", "20")
    monkeypatch.setattr(runtime, "load_classifier", lambda _, threads=None: classifier)

    def report(name: str) -> list[str]:
        return ["--report", str(tmp_path / f"{name}.html"), "--examples", "2"]

    assert cli.main(["score", str(source), "-o", str(tmp_path / "here.jsonl"), *report("here")]) == 0
    here = capsys.readouterr().err.splitlines()[-1]
    changes = {"redis_url": REDIS_URL, "cache_prefix": worker_settings.cache_prefix, "job_chunk_size": 20}
    with live_app(classifier, replace(settings, max_chars=worker_settings.max_chars), **changes) as url:
        there_argv = ["score", "--remote", url, str(source), "-o", str(tmp_path / "there.jsonl")]
        assert cli.main([*there_argv, *report("there")]) == 0
        there = capsys.readouterr().err.splitlines()[-1]
    for suffix in ("", ".errors.jsonl", ".summary.json"):
        local, remote = tmp_path / f"here.jsonl{suffix}", tmp_path / f"there.jsonl{suffix}"
        assert local.read_bytes() == remote.read_bytes(), suffix
    assert (tmp_path / "here.html").read_bytes() == (tmp_path / "there.html").read_bytes()
    assert (tmp_path / "here.html").read_text().count('<li class="example"') >= 4
    assert here.replace("here", "there") == there
    results = [json.loads(line) for line in (tmp_path / "here.jsonl").read_text().splitlines()]
    errors = [json.loads(line) for line in (tmp_path / "here.jsonl.errors.jsonl").read_text().splitlines()]
    assert len(results) > 40 and len({e["line"] for e in errors}) == len(errors) >= 7
    assert any("duplicate id" in e["reason"] for e in errors)
    if kind == "jsonl":
        assert {type(r["id"]) for r in results} == {int, str}  # ids keep their JSON type


async def test_a_worker_beats_while_it_runs_and_leaves_when_stopped(
    worker_settings: Settings, workers: Workers
) -> None:
    """Last in this module: it stops the shared worker. The kill test's victim still counts as live
    until WORKER_GONE_S after its last beat, so this waits until the shared worker is the only one.
    A stop is clean (exit 0) and prompt: well within one heartbeat, not after the slowest upkeep timer."""
    workers.shared()
    [shared] = [w for w in workers.started if w.process.poll() is None]
    store = JobStore.from_settings(worker_settings)
    try:
        for _ in range(600):
            alive = await store.workers()
            if [s.info.pid if s.info else None for s in alive] == [shared.process.pid]:
                break
            await asyncio.sleep(0.2)
        [status] = alive
        assert status.info is not None and status.info.pid == shared.process.pid
        assert status.info.chunks > 0 and status.info.model.startswith("dialogic-minilm ")
        beat = datetime.fromisoformat(status.last_heartbeat)
        assert datetime.now(UTC) - beat < timedelta(seconds=WORKER_GONE_S)
        shared.process.terminate()
        assert shared.process.wait(WORKER_BEAT_S) == 0
        shared.stop()
        assert await store.workers() == [] and await store.workers_alive() == 0
    finally:
        await store.close()


def test_the_service_app_serves_jobs_and_needs_redis_for_them(client: TestClient[Litestar]) -> None:
    """create_app registers /v1/jobs; the session app has no DIALOGIC_REDIS_URL, so it answers 503."""
    response = client.get("/v1/jobs/any")
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/jobs-unavailable"
