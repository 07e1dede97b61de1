"""The admin session cookie and the limit on login attempts: over real HTTP against `dialogic serve`
(behind a stand-in proxy: the server trusts X-Forwarded-* from 127.0.0.1, named in FORWARDED_ALLOW_IPS as
a configured ingress would be), and in process without Redis, where the limit is counted in memory."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import TestClient

from service.api.admin import LOGIN_WINDOW_S, SESSION_COOKIE, login_limiter
from service.app import create_app
from service.errors import problem_details_plugin
from service.runtime import Runtime
from service.settings import Settings
from service.web import WebPlugin
from tests.admin.conftest import Server, csrf_token

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = Settings().admin_login_limit


def session_cookie(response: httpx.Response) -> list[str]:
    """The attributes of the session's Set-Cookie, lower-cased, without its value."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "=")]
    return [part.strip().lower() for part in header.split(";")[1:]]


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/rate-limited" and problem["status"] == 429
    assert f"More than {limit} login attempts" in problem["detail"]
    assert 1 <= int(response.headers["retry-after"]) <= LOGIN_WINDOW_S
    assert response.headers["retry-after"] == response.headers["ratelimit-reset"]
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def fresh_address() -> str:
    """A client address of a test's own (documentation range), so its count is no one else's."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def in_one_window(need_s: float = 20.0) -> None:
    """Login attempts are counted per aligned window of LOGIN_WINDOW_S, so a test that straddled a
    boundary would see its count start again. In a window's last `need_s` seconds (a 2% chance), wait
    for the next one."""
    left = LOGIN_WINDOW_S - time.time() % LOGIN_WINDOW_S
    if left < need_s:
        time.sleep(left + 0.5)


@pytest.fixture
def address() -> str:
    in_one_window()
    return fresh_address()


def test_the_session_cookie_is_secure_when_the_request_came_over_https(server: Server, address: str) -> None:
    # From an address of its own: the other admin tests log in from 127.0.0.1, within its login limit.
    with httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": address}) as http:
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


def test_login_attempts_are_limited_per_address_and_counted_in_redis(server: Server, address: str) -> None:
    wrong, right = {"key": "not-the-key"}, {"key": server.admin_key}
    with httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": address}) as http:
        assert [http.post("/admin/login", data=wrong).status_code for _ in range(LIMIT)] == [401] * LIMIT
        assert_limited(http.post("/admin/login", data=wrong), LIMIT)
        assert_limited(http.post("/admin/login", data=right), LIMIT)  # the right key waits too
    with httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": address + "0"}) as other:
        assert other.post("/admin/login", data=right).status_code == 303  # per address
    with redis.Redis.from_url(REDIS_URL) as client:  # shared by replicas: the count is in Redis
        [key] = client.scan_iter(match=f"*:admin-login:rl:ip:{address}:*", count=1000)
        assert int(client.get(key) or 0) == LIMIT + 2
        assert 0 < client.ttl(key) <= LOGIN_WINDOW_S + 5


def test_a_cache_flush_keeps_the_login_counts(server: Server, address: str) -> None:
    wrong = {"key": "not-the-key"}
    with httpx.Client(base_url=server.url, timeout=60, headers={"X-Forwarded-For": address}) as guesser:
        assert [guesser.post("/admin/login", data=wrong).status_code for _ in range(LIMIT)] == [401] * LIMIT
        with httpx.Client(
            base_url=server.url, timeout=60, headers={"X-Forwarded-For": fresh_address()}
        ) as admin:
            scored = admin.post("/v1/classify", json={"text": f"a post for the flush {address}"})
            assert scored.status_code == 200 and not scored.json()["cached"], scored.text
            assert admin.post("/admin/login", data={"key": server.admin_key}).status_code == 303
            flushed = admin.post("/admin/flush", data={"csrf": csrf_token(admin.get("/admin/flush").text)})
            assert flushed.status_code == 303
            assert int(flushed.headers["location"].split("flushed=")[1]) >= 1  # the result went
        assert_limited(guesser.post("/admin/login", data=wrong), LIMIT)  # the count did not


@pytest.fixture
def local() -> Iterator[TestClient[Litestar]]:
    """The admin pages alone, with no Redis: the limit is counted in this process."""
    settings = Settings(admin_key="the-key", admin_login_limit=3, redis_url=None)
    in_one_window()
    app = Litestar(
        plugins=[problem_details_plugin(), WebPlugin(settings, login_limiter(settings))],
        dependencies={  # what the pages take from the app's other plugins; unused here
            "runtime": Provide(lambda: Runtime(settings), sync_to_thread=False),
            "jobs_overview": Provide(lambda: {"state": "off"}, sync_to_thread=False),
        },
    )
    with TestClient(app, base_url="https://testserver.local") as client:
        yield client


def test_without_redis_the_limit_is_counted_in_process(local: TestClient[Litestar]) -> None:
    assert [local.post("/admin/login", data={"key": "x"}).status_code for _ in range(3)] == [401] * 3
    assert_limited(local.post("/admin/login", data={"key": "the-key"}), 3)


def test_a_session_started_over_https_is_secure_in_process(local: TestClient[Litestar]) -> None:
    response = local.post("/admin/login", data={"key": "the-key"}, follow_redirects=False)
    assert response.status_code == 303
    assert {"secure", "httponly", "samesite=strict"} <= set(session_cookie(response))


def test_a_huge_login_form_is_refused_before_it_is_parsed(local: TestClient[Litestar]) -> None:
    """7.9 MB, 800,000 fields: parsing them held the event loop (health checks included) for seconds."""
    form = b"&".join(b"f%d=x" for i in range(800_000))
    started = time.perf_counter()
    response = local.post(
        "/admin/login", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert time.perf_counter() - started < 1.5
    assert local.get("/admin/login").status_code == 200  # and the limit counted it: 1 of 3


def test_an_address_over_the_login_limit_is_refused_before_its_body_is_read(
    local: TestClient[Litestar],
) -> None:
    assert [local.post("/admin/login", data={"key": "x"}).status_code for _ in range(3)] == [401] * 3
    form = b"key=x&" + b"&".join(b"f%d=x" for i in range(800_000))
    started = time.perf_counter()
    response = local.post(
        "/admin/login", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_limited(response, 3)  # 429, not 413: the limit answered first, without reading the form
    assert time.perf_counter() - started < 1.5


def assert_admin_headers(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store", response.headers
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_admin_answer_has_no_store_and_a_csp(local: TestClient[Litestar]) -> None:
    answers = {
        "login page": local.get("/admin/login"),
        "no session (page)": local.get("/admin", follow_redirects=False),
        "no session (api)": local.get("/admin/api/stats"),
        "no such page": local.get("/admin/nothing-here"),
        "wrong method": local.delete("/admin/login"),
        "wrong key": local.post("/admin/login", data={"key": "x"}),
    }
    for _ in range(2):
        local.post("/admin/login", data={"key": "x"})
    answers["over the limit"] = local.post("/admin/login", data={"key": "the-key"})
    assert [r.status_code for r in answers.values()] == [200, 303, 401, 404, 405, 401, 429]
    for response in answers.values():
        assert_admin_headers(response)
    assert local.get("/static/admin.css").headers.get("cache-control") != "no-store"  # only /admin


WEAK = {
    "a word": "changeme",
    "two words": "correct-horse",
    "16 random bytes, hex": secrets.token_hex(16),
    "24 random bytes, base64": secrets.token_urlsafe(24),
    "a repeat": "ab" * 64,
    "a word repeated": "password" * 8,
}
STRONG = {
    "32 random bytes, base64": secrets.token_urlsafe(32),
    "32 random bytes, hex": secrets.token_hex(32),
    "64 random bytes, base64": secrets.token_urlsafe(64),
}


@pytest.mark.parametrize("secret", WEAK.values(), ids=WEAK.keys())
def test_a_weak_session_secret_is_refused_at_start(secret: str) -> None:
    with pytest.raises(ValueError, match="DIALOGIC_SESSION_SECRET holds at most"):
        create_app(Settings(admin_key="the-key", session_secret=secret))


@pytest.mark.parametrize("secret", STRONG.values(), ids=STRONG.keys())
def test_a_strong_session_secret_is_taken(secret: str) -> None:
    create_app(Settings(admin_key="the-key", session_secret=secret))
