"""Forwarding headers through `dialogic serve`'s own uvicorn options, on a real socket: believed only
from the proxies FORWARDED_ALLOW_IPS names. Unset, a client that puts a new X-Forwarded-For on every
guess must still count against its own address, not walk past the login limit."""

from __future__ import annotations

import secrets

import httpx
import pytest

from model.runtime.classifier import Classifier
from service.settings import Settings
from tests.live import live_app

ADMIN_KEY = secrets.token_urlsafe(24)
LIMIT = 10


def guesses_then_the_key(url: str) -> list[int]:
    """Twelve wrong keys and then the right one, each from a 'new' address the client claims."""
    statuses = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for n in range(13):
            key = ADMIN_KEY if n == 12 else f"guess-{n}"
            headers = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
            statuses.append(http.post("/admin/login", data={"key": key}, headers=headers).status_code)
    return statuses


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, [401] * LIMIT + [429] * 3),  # unset: the claimed addresses are ignored
        ({"FORWARDED_ALLOW_IPS": "127.0.0.1"}, [401] * 12 + [303]),  # a configured proxy is believed
    ],
)
def test_forwarded_for_is_believed_only_from_configured_proxies(
    classifier: Classifier, settings: Settings, environ: dict[str, str], expected: list[int]
) -> None:
    with live_app(classifier, settings, environ, admin_key=ADMIN_KEY, admin_login_limit=LIMIT) as url:
        assert guesses_then_the_key(url) == expected
