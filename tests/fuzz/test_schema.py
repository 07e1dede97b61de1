"""Schemathesis against the app's own OpenAPI schema: no 5xx, and every answer matches the schema.

The schema comes from a fresh app (the document needs no model); the cases run against the session's
started app through its TestClient, and the /v1/jobs cases against one with Redis (the shared one,
under a throwaway prefix), where jobs exist. Bounded (max_examples per operation, no deadline) so it
stays a quick test on a shared machine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as examples
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from schemathesis.core.transport import Response

from model.runtime.classifier import Classifier
from service.app import create_app
from service.deadline import TIMEOUT_HEADER, client_timeout_s
from service.errors import REQUEST_TIMEOUT, TYPE_BASE
from service.jobs.rows import NDJSON
from service.settings import Settings
from tests.jobs.conftest import REDIS_URL, purge
from tests.schema_cases import request_kwargs
from tests.service.test_security import app_client

pytestmark = pytest.mark.timeout(120)
document = create_app(Settings()).openapi_schema.to_schema()
# /v1/jobs needs Redis (503 by design without it): its cases run against an app that has it.
schema = schemathesis.openapi.from_dict(document).exclude(path_regex="^/v1/jobs")
jobs_schema = schemathesis.openapi.from_dict(document).include(path_regex="^/v1/jobs")


@schemathesis.check
def no_server_error_but_the_asked_timeout(
    ctx: schemathesis.CheckContext, response: Response, case: schemathesis.Case
) -> bool | None:
    """No 5xx, except the documented 503 request-timeout for a client that set its own deadline (the
    fuzzer sends X-Request-Timeout-Ms: 1) and only once that deadline has passed."""
    asked = {k.lower(): v for k, v in (case.headers or {}).items()}.get(TIMEOUT_HEADER.lower())
    if response.status_code == REQUEST_TIMEOUT.status and asked is not None:
        problem = json.loads(response.content)
        assert problem["type"] == TYPE_BASE + REQUEST_TIMEOUT.slug, problem
        asked_s = client_timeout_s(str(asked))
        assert asked_s is not None and response.elapsed >= asked_s, (response.elapsed, asked)
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error_but_the_asked_timeout, response_schema_conformance, content_type_conformance]


@schema.parametrize()
@examples(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, client: TestClient[Litestar]) -> None:
    case.validate_response(client.request(**request_kwargs(case, client)), checks=CHECKS)


@pytest.fixture(scope="module")
def jobs_client(classifier: Classifier, settings: Settings) -> Iterator[TestClient[Litestar]]:
    """The app with Redis, holding one real job, so that some cases find one."""
    prefix = f"dialogic-fuzz-{uuid.uuid4().hex[:10]}"
    with app_client(classifier, settings, redis_url=REDIS_URL, cache_prefix=prefix) as client:
        body = b'{"id": 1, "text": "a post for the fuzzer"}\n'
        assert client.post("/v1/jobs", content=body, headers={"content-type": NDJSON}).status_code == 202
        yield client
    purge(prefix)


@jobs_schema.parametrize()
@examples(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_jobs_conform_to_their_schema(case: schemathesis.Case, jobs_client: TestClient[Litestar]) -> None:
    case.validate_response(jobs_client.request(**request_kwargs(case, jobs_client)), checks=CHECKS)
