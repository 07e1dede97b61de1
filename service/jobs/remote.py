"""`dialogic score --remote URL`: run a file through a deployment's batch jobs instead of on this machine.

The file is streamed up (never read whole), progress is polled into a bar on a terminal, and the
results, errors and summary (and the report, when asked for) are streamed down to the same outputs as
local scoring writes (service/jobs/outputs.py). Large files go to the cluster's workers this way. The
client imports neither torch nor transformers, so it starts at once. Every failure a person can expect
(the service cannot be reached, refuses the key, rejects the file) is a `Failure` with its exit code.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from service.exits import Exit, Failure, for_status
from service.jobs.outputs import Outputs, content_type
from service.schemas import API_KEY_HEADER

TERMINAL = ("succeeded", "failed", "cancelled")
UPLOAD_BLOCK = 1 << 20
API_KEY_ENV = "DIALOGIC_REMOTE_API_KEY"  # a client credential, so not one of the service's Settings


def _checked(response: httpx.Response) -> httpx.Response:
    """`response`, unless it is an error: then a Failure naming the request and the service's problem."""
    if response.is_success:
        return response
    response.read()
    try:
        body = response.json()
        problem = f"{body.get('title')}: {body.get('detail')}"
    except ValueError:
        problem = response.text[:200].strip() or response.reason_phrase
    request = response.request
    raise Failure(
        for_status(response.status_code),
        f"{request.method} {request.url} answered {response.status_code} {problem}",
    )


def _upload(source: Path, bar: tqdm[Any]) -> Iterator[bytes]:
    with source.open("rb") as fh:
        while block := fh.read(UPLOAD_BLOCK):
            bar.update(len(block))
            yield block


def _download(client: httpx.Client, url: str, path: Path, params: dict[str, int] | None = None) -> None:
    with client.stream("GET", url, params=params) as response, path.open("wb") as out:
        for block in _checked(response).iter_bytes():
            out.write(block)


def _follow(client: httpx.Client, job: dict[str, Any], poll_s: float, tty: bool) -> dict[str, Any]:
    """Poll the job until it ends, with a bar of rows done; says so once if no worker is alive."""
    warned = False
    with tqdm(total=job["progress"]["rows_total"], unit=" rows", desc="scoring", disable=not tty) as bar:
        while True:
            bar.update(job["progress"]["rows_done"] - bar.n)
            if job["state"] in TERMINAL:
                return job
            if job.get("hint") and not warned:
                tqdm.write(f"dialogic score: job {job['id']} waits: {job['hint']}", file=sys.stderr)
                warned = True
            time.sleep(poll_s)
            job = _checked(client.get(job["links"]["self"])).json()


def score_remote(
    client: httpx.Client, source: Path, out: Outputs, examples: int = 0, poll_s: float = 1.0
) -> int:
    """Submit `source` as a job on `client`'s server, wait, and download its outputs (the report with
    `examples` posts per account and label, when `out` has a page)."""
    tty = sys.stderr.isatty()
    with out.writing() as partial:
        size = source.stat().st_size
        with tqdm(total=size, unit="B", unit_scale=True, desc="uploading", disable=not tty) as bar:
            response = client.post(
                "/v1/jobs", content=_upload(source, bar), headers={"content-type": content_type(source)}
            )
        job = _follow(client, _checked(response).json(), poll_s, tty)
        if job["state"] != "succeeded":
            failure = f": {job['failure']}" if job.get("failure") else ""
            raise Failure(Exit.JOB_FAILED, f"job {job['id']} {job['state']}{failure}")
        links = job["links"]
        _download(client, links["results"], partial.results)
        _download(client, links["errors"], partial.errors)
        _download(client, links["summary"], partial.summary)
        if partial.page:
            _download(client, links["report"], partial.page, {"examples": examples} if examples else None)
    print(out.report(job["progress"]["rows_done"], job["errors"]), file=sys.stderr)
    return Exit.OK


def main(url: str, source: Path, out: Outputs, examples: int = 0) -> int:
    key = os.environ.get(API_KEY_ENV)
    headers = {API_KEY_HEADER: key} if key else {}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30.0, read=300.0)) as client:
            return score_remote(client, source, out, examples)
    except httpx.InvalidURL as exc:
        raise Failure(Exit.INPUT, f"--remote {url!r} is not a URL: {exc}") from None
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise Failure(Exit.UNREACHABLE, f"cannot reach {url}: {reason}") from None
