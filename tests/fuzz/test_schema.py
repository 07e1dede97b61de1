"""Schemathesis against the app's own OpenAPI schema: no 5xx, and every answer matches the schema.

The schema comes from a fresh app (the document needs no model); the cases run against the session's
started app through its TestClient. Bounded (max_examples per operation, no deadline) so it stays a
quick test on a shared machine.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from service.app import create_app
from service.settings import Settings
from tests.schema_cases import request_kwargs

pytestmark = pytest.mark.timeout(120)
# /v1/jobs needs Redis and a worker (503 by design without them); tests/jobs covers it.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi_schema.to_schema()).exclude(
    path_regex="^/v1/jobs"
)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, client: TestClient[Litestar]) -> None:
    case.validate_response(client.request(**request_kwargs(case, client)), checks=CHECKS)
