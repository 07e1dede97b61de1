"""`dialogic score --remote URL`: run a file through a deployment's batch jobs instead of locally.

The file is streamed up (never read whole), progress is polled into a tqdm bar on a terminal, and the
results are streamed down to OUTPUT; the summary is written next to it. Large files go to the
cluster's workers this way, where `dialogic score` without --remote would label them on this machine.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from service.jobs.rows import CSV, NDJSON
from service.security import API_KEY_HEADER

TERMINAL = ("succeeded", "failed", "cancelled")
UPLOAD_BLOCK = 1 << 20
API_KEY_ENV = "DIALOGIC_REMOTE_API_KEY"  # a client credential, so not one of the service's Settings


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('title')}: {body.get('detail')}"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"


def score_remote(client: httpx.Client, source: Path, output: Path, poll_s: float = 1.0) -> int:
    """Submit `source` as a job on `client`'s server, wait, and download; returns an exit status."""
    content_type = CSV if source.suffix.lower() == ".csv" else NDJSON
    with source.open("rb") as fh:
        response = client.post(
            "/v1/jobs",
            content=iter(lambda: fh.read(UPLOAD_BLOCK), b""),
            headers={"content-type": content_type},
        )
    if response.status_code != 202:
        print(f"dialogic score: upload rejected: {_problem(response)}", file=sys.stderr)
        return 2
    job: dict[str, Any] = response.json()
    links = job["links"]
    with tqdm(total=job["progress"]["rows_total"], unit=" rows", disable=not sys.stderr.isatty()) as bar:
        while job["state"] not in TERMINAL:
            time.sleep(poll_s)
            job = client.get(links["self"]).raise_for_status().json()
            bar.update(job["progress"]["rows_done"] - bar.n)
    if job["state"] != "succeeded":
        print(
            f"dialogic score: job {job['id']} {job['state']} {job.get('failure', '')}".rstrip(),
            file=sys.stderr,
        )
        return 1
    with client.stream("GET", links["results"]) as results, output.open("wb") as out:
        results.raise_for_status()
        for block in results.iter_bytes():
            out.write(block)
    summary_path = output.with_name(output.name + ".summary.json")
    summary_path.write_bytes(client.get(links["summary"]).raise_for_status().content)
    errors_url = client.base_url.join(links["errors"])
    done, rejected = job["progress"]["rows_done"], job["errors"]
    print(f"{done} scored, {rejected} rejected (see {errors_url}); summary: {summary_path}", file=sys.stderr)
    return 0


def main(url: str, source: Path, output: Path) -> int:
    key = os.environ.get(API_KEY_ENV)
    headers = {API_KEY_HEADER: key} if key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30.0, read=300.0)) as client:
        return score_remote(client, source, output)
