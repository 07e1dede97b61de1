"""Schemathesis against the jobs endpoints of an app with Redis (the service-wide schema test skips
them, since its app has none): no 5xx, and every answer matches the documented schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from tests.jobs.conftest import jobs_app, make_settings, purge
from tests.schema_cases import request_kwargs

pytestmark = pytest.mark.timeout(120)
SETTINGS = make_settings()
schema = schemathesis.openapi.from_dict(jobs_app(SETTINGS).openapi_schema.to_schema())
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def jobs_http() -> Iterator[TestClient[Litestar]]:
    with TestClient(jobs_app(SETTINGS)) as client:
        yield client
    purge(SETTINGS.cache_prefix)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_jobs_api_conforms_to_its_schema(case: schemathesis.Case, jobs_http: TestClient[Litestar]) -> None:
    case.validate_response(jobs_http.request(**request_kwargs(case, jobs_http)), checks=CHECKS)
