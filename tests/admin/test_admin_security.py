"""The admin session cookie: over real HTTP against `dialogic serve` (behind a stand-in proxy: uvicorn
trusts X-Forwarded-* from 127.0.0.1, as it would from a configured ingress), and in process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import TestClient

from service.api.admin import SESSION_COOKIE
from service.errors import problem_details_plugin
from service.runtime import Runtime
from service.settings import Settings
from service.web import WebPlugin
from tests.admin.conftest import Server


def session_cookie(response: httpx.Response) -> list[str]:
    """The attributes of the session's Set-Cookie, lower-cased, without its value."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "=")]
    return [part.strip().lower() for part in header.split(";")[1:]]


def test_the_session_cookie_is_secure_when_the_request_came_over_https(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        proxied = http.post(
            "/admin/login", data={"key": server.admin_key}, headers={"X-Forwarded-Proto": "https"}
        )
        plain = http.post("/admin/login", data={"key": server.admin_key})
    for response in (proxied, plain):
        assert response.status_code == 303, response.text
        attributes = session_cookie(response)
        assert {"httponly", "samesite=strict", "path=/admin"} <= set(attributes)
    assert "secure" in session_cookie(proxied)
    assert "secure" not in session_cookie(plain)  # plain http (development) keeps working


@pytest.fixture
def local() -> Iterator[TestClient[Litestar]]:
    """The admin pages alone, in process, with no Redis."""
    settings = Settings(admin_key="the-key", redis_url=None)
    app = Litestar(
        plugins=[problem_details_plugin(), WebPlugin(settings)],
        dependencies={"runtime": Provide(lambda: Runtime(settings), sync_to_thread=False)},  # unused here
    )
    with TestClient(app, base_url="https://testserver.local") as client:
        yield client


def test_a_session_started_over_https_is_secure_in_process(local: TestClient[Litestar]) -> None:
    response = local.post("/admin/login", data={"key": "the-key"}, follow_redirects=False)
    assert response.status_code == 303
    assert {"secure", "httponly", "samesite=strict"} <= set(session_cookie(response))
