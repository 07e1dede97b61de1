"""Slow bodies, on a real socket: a client that sends its headers and part of the body, then nothing
(or a byte now and then), gets a 408 problem once the body deadline passes, on every route that reads
a body, instead of holding a connection and a handler for as long as it likes."""

from __future__ import annotations

import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis

from model.runtime.classifier import Classifier
from service.jobs.rows import NDJSON
from service.settings import Settings
from tests.jobs.conftest import REDIS_URL, purge
from tests.live import live_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
TIMEOUT_S = 1.0
ANSWER_S = 8.0  # before, no answer came at all (45 s and more)
ROUTES = [
    ("/admin/login", "application/x-www-form-urlencoded", b"key=abcdefghij"),
    ("/v1/jobs", NDJSON, b'{"id": 1, "text": "the first line of an up'),
    ("/v1/classify", "application/json", b'{"text": "hel'),
    ("/v1/classify/batch", "application/json", b'{"items": [{"te'),
]


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    name = f"dialogic-slowbody-{uuid.uuid4().hex[:10]}"
    yield name
    purge(name)


@pytest.fixture(scope="module")
def url(classifier: Classifier, settings: Settings, prefix: str) -> Iterator[str]:
    with live_app(
        classifier,
        settings,
        body_timeout_s=TIMEOUT_S,
        admin_key=secrets.token_urlsafe(24),
        redis_url=REDIS_URL,
        redis_timeout_ms=1000,
        cache_prefix=prefix,
    ) as base:
        yield base


def stalled_request(
    url: str, path: str, content_type: str, part: bytes, trickle: bool
) -> tuple[bytes, float]:
    """POST with Content-Length 1000 but only `part` of it, then silence (or a byte every 0.3 s); the
    raw answer, and how long after the last full send it came."""
    where = urlsplit(url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {where.hostname}\r\nContent-Type: {content_type}\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).encode()
    with socket.create_connection((where.hostname, where.port), timeout=0.3) as sock:
        sock.sendall(head + part)
        started = time.monotonic()
        while time.monotonic() - started < ANSWER_S:
            try:
                if reply := sock.recv(65536):
                    return reply, time.monotonic() - started
            except TimeoutError:
                if trickle:
                    sock.sendall(b"a")
        pytest.fail(f"no answer to a stalled body on {path} within {ANSWER_S} s")


@pytest.mark.parametrize("trickle", [False, True], ids=["stopped", "trickling"])
@pytest.mark.parametrize(("path", "content_type", "part"), ROUTES)
def test_a_body_that_stops_coming_gets_408(
    url: str, prefix: str, path: str, content_type: str, part: bytes, trickle: bool
) -> None:
    reply, waited = stalled_request(url, path, content_type, part, trickle)
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408 "), reply[:300]
    assert b"application/problem+json" in rest and b"/problems/body-timeout" in rest
    assert waited >= TIMEOUT_S * 0.9
    with redis.Redis.from_url(REDIS_URL) as plain:  # a cut-off upload leaves nothing behind
        assert list(plain.scan_iter(match=f"{prefix}:job:*")) == []
