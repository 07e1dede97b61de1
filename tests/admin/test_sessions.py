"""Admin sessions end for good: a logged-out cookie replayed (on the replica that logged it out, and on
another one sharing its Redis) reads and flushes nothing, and a session in constant use still ends its
lifetime after login. In process, around the session's model, on the shared Redis under a throwaway
prefix."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from model.runtime.classifier import Classifier
from service.api.admin import SESSION_COOKIE
from service.settings import Settings
from tests.admin.conftest import csrf_token
from tests.jobs.conftest import REDIS_URL, purge
from tests.service.test_security import app_client

ADMIN_KEY = secrets.token_urlsafe(24)


@pytest.fixture
def admin(settings: Settings) -> Iterator[Settings]:
    prefix = f"dialogic-session-test-{uuid.uuid4().hex[:10]}"
    yield Settings(
        **{
            **settings.__dict__,
            "admin_key": ADMIN_KEY,
            "session_secret": secrets.token_urlsafe(32),
            "redis_url": REDIS_URL,
            "redis_timeout_ms": 1000,
            "cache_prefix": prefix,
        }
    )
    purge(prefix)


def log_in(client: TestClient[Litestar]) -> str:
    """The session cookie's value after a login."""
    response = client.post("/admin/login", data={"key": ADMIN_KEY}, follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


def replay(client: TestClient[Litestar], cookie: str) -> TestClient[Litestar]:
    """`client`, now sending `cookie` as its only cookie, as a thief with a copy of it would. (The same
    client rather than a new one: a new TestClient would run the app on an event loop of its own.)"""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def test_a_logged_out_session_is_refused_on_every_replica(classifier: Classifier, admin: Settings) -> None:
    with app_client(classifier, admin) as one, app_client(classifier, admin) as other:
        cookie = log_in(one)
        csrf = csrf_token(one.get("/admin").text)
        assert replay(other, cookie).get("/admin/api/stats").status_code == 200  # the same session, elsewhere
        assert one.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
        for replica in (one, other):
            stolen = replay(replica, cookie)
            assert stolen.get("/admin/api/stats").status_code == 401
            flush = stolen.post("/admin/flush", data={"csrf": csrf}, follow_redirects=False)
            assert flush.status_code == 303 and flush.headers["location"] == "/admin/login", flush.text


def test_a_session_ends_at_its_lifetime_however_active(classifier: Classifier, admin: Settings) -> None:
    lifetime_s = 2
    with app_client(classifier, admin, admin_session_s=lifetime_s) as client:
        log_in(client)
        started, answers = time.monotonic(), []
        while time.monotonic() - started < lifetime_s + 1.5:
            answers.append((time.monotonic() - started, client.get("/admin/api/stats").status_code))
            time.sleep(0.2)  # each answer renews the cookie: activity alone must not extend the session
        assert all(status == 200 for at, status in answers if at < lifetime_s - 0.5), answers
        assert all(status == 401 for at, status in answers if at > lifetime_s + 0.5), answers
