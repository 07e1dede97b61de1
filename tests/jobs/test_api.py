"""The /v1/jobs endpoints and the chunk task against the real Redis, with a fake model in-process."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import replace

import msgspec
import pytest
import redis
from litestar.testing import TestClient
from saq.job import Job

from model.runtime.classifier import Prediction, to_prediction
from service.cache import MemoryCache
from service.jobs.rows import CSV, NDJSON
from service.jobs.store import JobStore, State, WorkerInfo
from service.jobs.tasks import ChunkRunner
from service.scoring import Scorer
from service.settings import Settings
from tests.jobs.conftest import REDIS_URL, Client, jobs_app, ndjson, submit


async def fake_predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
    return [
        to_prediction([p := int(hashlib.sha256(t.encode()).hexdigest()[:6], 16) / 0xFFFFFF, 1 - p])
        for t in texts
    ]


def runner(settings: Settings) -> ChunkRunner:
    scorer = Scorer(MemoryCache(1000, 60), fake_predict, "fake", settings.cache_prefix)
    return ChunkRunner(JobStore.from_settings(settings), scorer)


async def run_chunk(chunk_runner: ChunkRunner, job_id: str, chunk: int) -> int:
    job = Job("process_chunk", kwargs={"job_id": job_id, "chunk": chunk}, heartbeat=2, retries=3, attempts=1)
    return await chunk_runner.process_chunk({"job": job, "worker": None}, job_id=job_id, chunk=chunk)  # type: ignore[typeddict-item]


BAD_LINES = [
    b'{"id": "a1", "text": "hello @bob, how are you?", "author": "ann"}',
    b'{"id": "a2", "text": "broken',  # 2: malformed JSON
    b'{"id": "a3"}',  # 3: no text
    b'{"id": "a4", "text": "   "}',  # 4: empty text
    b'{"id": "a5", "text": "' + b"x" * 201 + b'"}',  # 5: over max_chars (200 in these tests)
    b"",  # 6: blank, skipped silently
    b'{"id": "a7", "text": "New post on the blog", "created_at": "yesterday"}',  # 7: bad timestamp
    b'{"id": "a8", "text": "Our spring sale starts today", "author": "shop"}',
]


async def test_malformed_lines_are_reported_by_line_and_the_rest_scored(
    jobs_client: Client, job_settings: Settings
) -> None:
    job_id = await submit(jobs_client, b"\n".join(BAD_LINES) + b"\n")
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["state"] == "queued"
    assert status["errors"] == 5
    assert status["progress"] == {"rows_done": 0, "rows_total": 2, "chunks_done": 0, "chunks_total": 1}
    errors = [
        msgspec.json.decode(line)
        for line in (await jobs_client.get(f"/v1/jobs/{job_id}/errors")).content.splitlines()
    ]
    assert [e["line"] for e in errors] == [2, 3, 4, 5, 7]
    assert errors[1]["reason"] == "invalid row: Object missing required field `text`"
    assert all("x" * 20 not in e["reason"] and "blog" not in e["reason"] for e in errors)  # never the text

    assert await run_chunk(runner(job_settings), job_id, 0) == 2
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["state"] == "succeeded"
    lines = (await jobs_client.get(f"/v1/jobs/{job_id}/results")).content.splitlines()
    assert [msgspec.json.decode(line)["id"] for line in lines] == ["a1", "a8"]
    summary = (await jobs_client.get(f"/v1/jobs/{job_id}/summary")).json()
    assert summary["rows"] == 2 and {a["author"] for a in summary["authors"]} == {"ann", "shop"}


async def test_repeated_ids_are_rejected_by_line_and_the_first_kept(
    jobs_client: Client, job_settings: Settings
) -> None:
    rows: list[dict[str, object]] = [{"id": i, "text": f"post number {i}"} for i in range(60)]  # lines 1-60
    rows += [
        {"id": 5, "text": "line 61 repeats line 6, across chunks"},
        {"id": "5", "text": "a string, not the number 5"},
        {"id": "x", "text": " "},  # 63: rejected, so it does not claim "x"
        {"id": "x", "text": "line 64 is the first scored x"},
        {"id": "y", "text": "line 65"},
        {"id": "y", "text": "line 66 repeats line 65, in the same chunk"},
        {"id": 59, "text": "line 67 repeats line 60"},
    ]
    job_id = await submit(jobs_client, ndjson(rows))
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["errors"] == 4
    assert status["progress"] == {"rows_done": 0, "rows_total": 63, "chunks_done": 0, "chunks_total": 2}
    errors = [
        msgspec.json.decode(line)
        for line in (await jobs_client.get(f"/v1/jobs/{job_id}/errors")).content.splitlines()
    ]
    assert [e["line"] for e in errors] == [61, 63, 66, 67]  # in line order, with the other errors
    assert [(e["reason"], e["id"]) for e in errors if e["line"] != 63] == [
        ("duplicate id, first seen on line 6", 5),
        ("duplicate id, first seen on line 65", "y"),
        ("duplicate id, first seen on line 60", 59),
    ]
    with redis.Redis.from_url(REDIS_URL) as client:  # the ids were needed for the upload only
        assert not client.exists(f"{job_settings.cache_prefix}:job:{job_id}:ids")
    chunk_runner = runner(job_settings)
    for chunk in (0, 1):
        await run_chunk(chunk_runner, job_id, chunk)
    lines = (await jobs_client.get(f"/v1/jobs/{job_id}/results")).content.splitlines()
    assert [msgspec.json.decode(line)["id"] for line in lines] == [*range(60), "5", "x", "y"]


async def test_a_chunk_run_twice_counts_once(jobs_client: Client, job_settings: Settings) -> None:
    rows = [{"id": i, "text": f"post number {i} about things"} for i in range(120)]
    job_id = await submit(jobs_client, ndjson(rows))
    chunk_runner = runner(job_settings)
    assert await run_chunk(chunk_runner, job_id, 1) == 50
    assert await run_chunk(chunk_runner, job_id, 1) == 50  # a retry after an expired lease
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["state"] == "running"
    assert status["progress"] == {"rows_done": 50, "rows_total": 120, "chunks_done": 1, "chunks_total": 3}
    for chunk in (0, 2):
        await run_chunk(chunk_runner, job_id, chunk)
    lines = (await jobs_client.get(f"/v1/jobs/{job_id}/results")).content.splitlines()
    assert [msgspec.json.decode(line)["id"] for line in lines] == list(range(120))


async def test_cancel_stops_pending_chunks(jobs_client: Client, job_settings: Settings) -> None:
    job_id = await submit(jobs_client, ndjson([{"id": str(i), "text": f"hello {i}"} for i in range(100)]))
    chunk_runner = runner(job_settings)
    await run_chunk(chunk_runner, job_id, 0)
    response = await jobs_client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert await run_chunk(chunk_runner, job_id, 1) == 0
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["state"] == State.CANCELLED and status["progress"]["chunks_done"] == 1
    for part in ("results", "summary"):
        answer = await jobs_client.get(f"/v1/jobs/{job_id}/{part}")
        assert answer.status_code == 409 and answer.json()["type"] == "/problems/job-cancelled"
        assert "cancelled" in answer.json()["detail"] and "once it succeeds" not in answer.json()["detail"]
    assert (await jobs_client.delete(f"/v1/jobs/{job_id}")).json()["state"] == "cancelled"  # idempotent


async def test_csv_upload_with_quoted_newlines_and_bad_rows(jobs_client: Client) -> None:
    body = (
        b'id,text,author,created_at\r\n1,"two\r\nlines, quoted",ann,2024-01-01T10:00:00Z\r\n'
        b"2,only two fields\r\n3,plain post,bob,\r\n"
    )
    job_id = await submit(jobs_client, body, CSV)
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["progress"]["rows_total"] == 2
    errors = [
        msgspec.json.decode(line)
        for line in (await jobs_client.get(f"/v1/jobs/{job_id}/errors")).content.splitlines()
    ]
    assert errors == [{"line": 4, "reason": "bad CSV row: 2 fields, the header has 4"}]


async def test_upload_problems(jobs_client: Client) -> None:
    response = await jobs_client.post("/v1/jobs", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    response = await jobs_client.post("/v1/jobs", content=b"name,body\nx,y\n", headers={"content-type": CSV})
    assert response.status_code == 422 and response.json()["type"] == "/problems/invalid-upload"
    missing = await jobs_client.get("/v1/jobs/nope")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/job-not-found"


@pytest.mark.parametrize(
    ("body", "content_type"), [(b"", NDJSON), (b"\n \n\n", NDJSON), (b"id,text\r\n", CSV), (b"", CSV)]
)
async def test_an_upload_without_a_post_is_a_422_and_leaves_nothing(
    jobs_client: Client, job_settings: Settings, body: bytes, content_type: str
) -> None:
    response = await jobs_client.post("/v1/jobs", content=body, headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/invalid-upload"
    with redis.Redis.from_url(REDIS_URL) as client:
        assert not list(client.scan_iter(match=f"{job_settings.cache_prefix}:job:*"))


async def test_a_queued_job_says_when_no_worker_is_alive(jobs_client: Client, job_settings: Settings) -> None:
    job_id = await submit(jobs_client, ndjson([{"id": 1, "text": "anyone there?"}]))
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["state"] == "queued" and status["workers"] == 0
    assert "dialogic worker" in status["hint"] and "DIALOGIC_CACHE_PREFIX" in status["hint"]
    store = JobStore.from_settings(job_settings)
    try:
        await store.beat("w1", WorkerInfo("host", 1, "2026-01-01T00:00:00+00:00", "m v", 0))
        status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
        assert status["workers"] == 1 and "hint" not in status
        await store.leave("w1")
        assert (await jobs_client.get(f"/v1/jobs/{job_id}")).json()["workers"] == 0
    finally:
        await store.close()


async def test_the_overview_counts_jobs_by_state_and_chunks_per_minute(
    jobs_client: Client, job_settings: Settings
) -> None:
    store = JobStore.from_settings(job_settings)
    try:
        assert (await store.overview()).queued == 0
        done, cancelled, waiting = [
            await submit(jobs_client, ndjson([{"id": i, "text": f"post {i} of {n}"} for i in range(3)]))
            for n in range(3)
        ]
        await run_chunk(runner(job_settings), done, 0)
        await jobs_client.delete(f"/v1/jobs/{cancelled}")
        overview = await store.overview()
        assert (overview.queued, overview.running, overview.succeeded, overview.cancelled) == (1, 0, 1, 1)
        assert overview.failed == 0 and overview.chunks_per_minute[-1] == 1
        assert len(overview.chunks_per_minute) == 10 and overview.workers == []
        await store.fail(waiting, "a test")
        assert (await store.overview()).failed == 1 and (await store.overview()).queued == 0
    finally:
        await store.close()


def test_over_the_upload_limit_is_413_and_leaves_nothing(job_settings: Settings) -> None:
    settings = replace(job_settings, max_upload_bytes=10_000)
    body = ndjson([{"id": str(i), "text": f"post {i}"} for i in range(1000)])

    def pieces() -> Iterator[bytes]:  # no Content-Length: the limit must hold on the streamed bytes
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    with TestClient(jobs_app(settings)) as client:
        response = client.post("/v1/jobs", content=pieces(), headers={"content-type": NDJSON})
        assert response.status_code == 413, response.text
        assert response.json()["type"] == "/problems/upload-too-large"
        declared = client.post("/v1/jobs", content=body, headers={"content-type": NDJSON})
        assert declared.status_code == 413
    with redis.Redis.from_url(REDIS_URL) as client:
        assert list(client.scan_iter(match=f"{settings.cache_prefix}:job:*")) == []


async def test_ids_beyond_64_bits_are_line_errors_not_a_failed_upload(
    jobs_client: Client, job_settings: Settings
) -> None:
    body = (
        b'{"id": 18446744073709551616, "text": "an id MessagePack cannot hold"}\n'
        b'{"id": 18446744073709551615, "text": "the largest id it can"}\n'
        b'\xef\xbb\xbf{"id": "late bom", "text": "a mark inside the file is not skipped"}\n'
    )
    job_id = await submit(jobs_client, body)
    errors = (await jobs_client.get(f"/v1/jobs/{job_id}/errors")).content.splitlines()
    assert [msgspec.json.decode(line) for line in errors] == [
        {"line": 1, "reason": "id is an integer beyond 64 bits; send it as a string"},
        {"line": 3, "reason": "malformed JSON"},
    ]
    await run_chunk(runner(job_settings), job_id, 0)
    [line] = (await jobs_client.get(f"/v1/jobs/{job_id}/results")).content.splitlines()
    assert line.startswith(b'{"id":18446744073709551615,')  # echoed exactly


async def test_a_csv_saved_by_excel_with_a_byte_order_mark_is_read(jobs_client: Client) -> None:
    job_id = await submit(jobs_client, b"\xef\xbb\xbfid,text\r\n1,thanks for the quick reply!\r\n", CSV)
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()
    assert status["progress"]["rows_total"] == 1 and status["errors"] == 0
