"""Who may touch a job, and what a job id may be: a job belongs to the API key that submitted it (any
other key gets the 404 of a job that does not exist), and only the id's own format names a job, so a
path can never reach another of the job's Redis keys."""

from __future__ import annotations

import pytest

from service.jobs.rows import NDJSON
from service.security import hash_key
from service.settings import Settings
from tests.jobs.conftest import Client, ndjson, results, submit
from tests.jobs.test_api import run_chunk, runner
from tests.service.test_api import assert_problem

KEYS = ("tenant-a-7d1f0c9e2b", "tenant-b-41aa6e03d8")
ENDPOINTS = [("GET", ""), ("GET", "/results"), ("GET", "/summary"), ("GET", "/errors"), ("DELETE", "")]
ROWS = [{"id": i, "text": f"post number {i} for the ownership test"} for i in range(60)]


def key(n: int) -> dict[str, str]:
    return {"X-API-Key": KEYS[n]}


@pytest.mark.parametrize("job_settings", [{"api_keys": ",".join(map(hash_key, KEYS))}], indirect=True)
async def test_a_job_is_seen_only_by_the_key_that_submitted_it(
    jobs_client: Client, job_settings: Settings
) -> None:
    response = await jobs_client.post(
        "/v1/jobs", content=ndjson(ROWS), headers={"content-type": NDJSON, **key(0)}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    chunk_runner = runner(job_settings)
    await run_chunk(chunk_runner, job_id, 0)
    for method, path in ENDPOINTS:  # the other tenant can neither read, summarise nor cancel it
        theirs = await jobs_client.request(method, f"/v1/jobs/{job_id}{path}", headers=key(1))
        assert_problem(theirs, 404, "/problems/job-not-found")
    mine = await jobs_client.get(f"/v1/jobs/{job_id}", headers=key(0))
    assert mine.status_code == 200 and mine.json()["state"] == "running"  # not cancelled by the other key
    await run_chunk(chunk_runner, job_id, 1)
    jobs_client.headers.update(key(0))
    assert [row["id"] for row in await results(jobs_client, job_id)] == list(range(60))
    assert (await jobs_client.get(f"/v1/jobs/{job_id}/summary")).json()["rows"] == 60
    await chunk_runner.store.close()


@pytest.mark.parametrize(
    "suffix", [":in:0", ":out:0", ":tallies", ":ids", ":errors", ":summary", ":done", "*", ":*"]
)
async def test_a_path_naming_another_key_of_the_job_is_404(
    jobs_client: Client, job_settings: Settings, suffix: str
) -> None:
    job_id = await submit(jobs_client, ndjson(ROWS))
    chunk_runner = runner(job_settings)
    await run_chunk(chunk_runner, job_id, 0)  # :out:0, :tallies and :done exist now
    for method, path in ENDPOINTS:
        response = await jobs_client.request(method, f"/v1/jobs/{job_id}{suffix}{path}")
        assert_problem(response, 404, "/problems/job-not-found")
    status = (await jobs_client.get(f"/v1/jobs/{job_id}")).json()  # and the job itself is untouched
    assert status["state"] == "running" and status["progress"]["chunks_done"] == 1
    await chunk_runner.store.close()


@pytest.mark.parametrize(
    "make", [str.upper, lambda i: i[:-1], lambda i: i + "0", lambda i: f"{i[:8]}-{i[8:]}"]
)
async def test_an_id_not_of_the_job_id_form_is_404(jobs_client: Client, make: object) -> None:
    job_id = await submit(jobs_client, ndjson(ROWS[:3]))
    assert callable(make)
    response = await jobs_client.get(f"/v1/jobs/{make(job_id)}")
    assert_problem(response, 404, "/problems/job-not-found")
