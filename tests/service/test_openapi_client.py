"""The OpenAPI document as a client author uses it: openapi-python-client generates a client from the
served /schema/openapi.json without a warning, and that client calls every operation of a real server
(API keys on, Redis for jobs), getting the documented models back, problem documents included."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from model.runtime.classifier import Classifier
from service.cache import MemoryCache
from service.jobs.store import JobStore
from service.jobs.tasks import ChunkRunner
from service.scoring import Scorer, in_thread
from service.security import hash_key
from service.settings import Settings
from tests.jobs.conftest import REDIS_URL, purge
from tests.jobs.test_api import run_chunk
from tests.live import live_app

pytestmark = pytest.mark.timeout(300)
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
KEY = "generated-client-key"
# The generator takes raw bodies as application/octet-stream only: docs/api.md gives this same config.
CONFIG = "content_type_overrides:\n  application/x-ndjson: application/octet-stream\n"
POSTS = (
    b'{"id": 1, "text": "@sam thanks, DM us your order number", "author": "shop"}\n'
    b'{"id": 2, "text": "Big sale today, shop now", "author": "shop"}\n'
    b'{"id": 3, "text": ""}\n'
)


@pytest.fixture(scope="module")
def server(classifier: Classifier, settings: Settings) -> Iterator[tuple[str, Settings]]:
    prefix = f"dialogic-client-{uuid.uuid4().hex[:10]}"
    changes: dict[str, Any] = {"redis_url": REDIS_URL, "cache_prefix": prefix, "api_keys": hash_key(KEY)}
    with live_app(classifier, settings, **changes) as url:
        yield url, Settings(**{**settings.__dict__, **changes})
    purge(prefix)


@pytest.fixture(scope="module")
def generated(server: tuple[str, Settings], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    url, _ = server
    where = tmp_path_factory.mktemp("client")
    (where / "config.yaml").write_text(CONFIG)
    env = os.environ | {
        "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    }  # its ruff hook
    result = subprocess.run(
        [
            *(str(GENERATOR), "generate", "--url", f"{url}/schema/openapi.json", "--meta", "none"),
            *("--output-path", str(where / "dialogic_client"), "--config", str(where / "config.yaml")),
        ],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    said = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert said == [f"Generating {where / 'dialogic_client'}"], said  # no warning, nothing skipped
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("dialogic_client")
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m.split(".")[0] == "dialogic_client"]:
            del sys.modules[name]


def operations(package: ModuleType) -> set[str]:
    root = Path(package.__file__ or "").parent / "api"
    return {f"{tag.name}.{op.stem}" for tag in root.iterdir() if tag.is_dir() for op in tag.glob("[!_]*.py")}


async def test_a_generated_client_calls_every_operation(
    generated: ModuleType, server: tuple[str, Settings], classifier: Classifier
) -> None:
    url, settings = server
    document = httpx.get(f"{url}/schema/openapi.json").json()
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "name": "X-API-Key",
        "in": "header",
        "description": "An API key whose SHA-256 digest is in DIALOGIC_API_KEYS (every /v1 call).",
    }
    client_module = importlib.import_module("dialogic_client.client")
    models = importlib.import_module("dialogic_client.models")
    types = importlib.import_module("dialogic_client.types")
    keyed = client_module.AuthenticatedClient(
        base_url=url, token=KEY, prefix="", auth_header_name="X-API-Key"
    )
    called: set[str] = set()

    def call(operation: str, **kwargs: Any) -> Any:
        module = importlib.import_module(f"dialogic_client.api.{operation}")
        called.add(operation)
        return module.sync_detailed(client=kwargs.pop("client", keyed), **kwargs)

    assert call("health.health_live_live").parsed.status == "alive"
    ready = call("health.health_ready_ready").parsed
    assert ready.status == "ready" and ready.workers.additional_properties["alive"] == 0
    one = call(
        "classify.v1_classify_classify", body=models.ClassifyRequest(text="@sam thanks, see you soon?")
    )
    assert one.status_code == 200 and one.parsed.label in ("broadcast", "conversation")
    items = [{"id": "a", "text": "New deals every day, shop now"}, {"id": "b", "text": " "}]
    batch = call("classify.v1_classify_batch_classify_batch", body=models.BatchRequest(items=items))
    assert batch.parsed.results[0].label and batch.parsed.results[1].error.status == 422
    assert call("model.v1_model_model_info").parsed.name == classifier.name

    submitted = call("jobs.v1_jobs_submit", body=types.File(payload=io.BytesIO(POSTS)))
    assert submitted.status_code == 202, submitted.content
    job = submitted.parsed
    assert job.state == "queued" and job.workers == 0 and "dialogic worker" in job.hint
    status = call("jobs.v1_jobs_job_id_status", job_id=job.id).parsed
    assert status.progress.rows_total == 2 and status.errors == 1
    early = call("jobs.v1_jobs_job_id_results_results", job_id=job.id)
    assert early.status_code == 409 and early.parsed.type_ == "/problems/job-not-finished"

    store = JobStore.from_settings(settings)
    scorer = Scorer(MemoryCache(100, 60), in_thread(classifier), classifier.scores_version, "client-test")
    try:
        assert await run_chunk(ChunkRunner(store, scorer), job.id, 0) == 2
    finally:
        await store.close()
    results = call("jobs.v1_jobs_job_id_results_results", job_id=job.id)
    assert [json.loads(line)["id"] for line in results.content.splitlines()] == [1, 2]
    errors = call("jobs.v1_jobs_job_id_errors_errors", job_id=job.id)
    assert [json.loads(line)["line"] for line in errors.content.splitlines()] == [3]
    summary = call("jobs.v1_jobs_job_id_summary_summary", job_id=job.id).parsed
    assert summary.rows == 2 and summary.authors[0].author == "shop"
    assert summary.authors[0].labels.additional_properties == {"broadcast": 1, "conversation": 1}
    report = call("jobs.v1_jobs_job_id_report_report", job_id=job.id, examples=1)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert b"Conversation report" in report.content and b'<li class="example"' in report.content
    refused_query = call("jobs.v1_jobs_job_id_report_report", job_id=job.id, examples=11)
    assert refused_query.status_code == 400 and refused_query.parsed.type_ == "/problems/invalid-request"
    done = call("jobs.v1_jobs_job_id_cancel", job_id=job.id)
    assert done.status_code == 409 and done.parsed.type_ == "/problems/job-finished"

    assert called == operations(generated), "an operation the test did not call"
    anonymous = client_module.Client(base_url=url)
    refused = call("jobs.v1_jobs_job_id_status", job_id=job.id, client=anonymous)
    assert refused.status_code == 401 and refused.parsed.type_ == "/problems/unauthorized"
