"""Schemathesis cases as requests for the schema tests' TestClients (httpx)."""

from __future__ import annotations

from typing import Any

import schemathesis
from litestar import Litestar
from litestar.testing import TestClient

from service.jobs.rows import NDJSON

# The job upload's body is raw bytes (a binary string in the schema): send what was generated as is.
schemathesis.serializer.alias(NDJSON, "application/octet-stream")


def request_kwargs(case: schemathesis.Case, client: TestClient[Litestar]) -> dict[str, Any]:
    """`case` as keyword arguments for `client.request`. The raw body is httpx's `content` (requests
    calls it `data`), and cookies stay out: httpx deprecates per-request cookies, with a warning even for
    the empty dict that every case carries, since no operation declares one."""
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=str(client.base_url))
    if "data" in kwargs:
        kwargs["content"] = kwargs.pop("data")
    cookies = kwargs.pop("cookies", None)
    assert not cookies, f"{case.operation.label} takes cookies now: set them on a client of its own"
    return kwargs
