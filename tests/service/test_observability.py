"""Logs are JSON, carry the request id, and never carry post text."""

from __future__ import annotations

import json
import logging

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service.observability import JsonFormatter


def test_request_logs_carry_id_but_no_text(
    client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "my-very-private-post-about-my-neighbour"
    with caplog.at_level(logging.DEBUG):
        ok = client.post("/v1/classify", json={"text": secret}, headers={"x-request-id": "trace-42"})
        bad = client.post("/v1/classify", json={"text": secret, "oops": True})
    assert ok.status_code == 200 and bad.status_code == 400
    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    assert all(secret not in json.dumps(line) for line in lines)
    access = [line for line in lines if line["logger"] == "dialogic.access"]
    assert {
        "request_id": "trace-42",
        "status": 200,
        "path": "/v1/classify",
        "method": "POST",
    }.items() <= access[0].items()
    assert access[1]["status"] == 400 and access[1]["request_id"] == bad.headers["x-request-id"]
