"""Hostile bodies: each gets the right 4xx or a correct result, fast; never a 500, never a hang."""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from model.runtime.classifier import Classifier
from service.settings import Settings
from tests.service.test_api import assert_problem, assert_result
from tests.service.test_security import app_client

pytestmark = pytest.mark.timeout(60)
Client = TestClient[Litestar]
JSON = {"content-type": "application/json"}
FAST_S = 2.0  # generous on a shared 2-core machine; a hang or a parse of megabytes would blow it


@pytest.fixture(scope="module")
def roomy(classifier: Classifier, settings: Settings) -> Iterator[Client]:
    """The production body limit (8 MiB), so the item and character limits are what answers."""
    with app_client(classifier, settings, max_body_bytes=Settings().max_body_bytes) as client:
        yield client


def post(client: Client, path: str, body: bytes) -> httpx.Response:
    started = time.perf_counter()
    response = client.post(path, content=body, headers=JSON)
    assert time.perf_counter() - started < FAST_S
    assert response.status_code < 500, response.text
    return response


@pytest.mark.parametrize(
    "text",
    [
        "🔥🔥 new drop 👩‍👩‍👧‍👦 link in bio ✨",
        "مرحبا @user شكرا على الرد",  # Arabic, right to left
        "שלום, see you \u202etomorrow\u202c at 5",  # Hebrew and a bidi override
        "tha\u200bnks for the\u200d reply\ufeff",  # zero-width characters inside words
        "a\u0000b\u0007c\u001b[31m red",  # NUL, BEL and an ANSI escape
        "e\u0301\u0301\u0301 Z\u0351\u0353\u0355algo",  # stacked combining marks
        "\U0010fffd private use plane and \ud7ff edge",
    ],
)
def test_odd_but_valid_text_is_scored(client: Client, classifier: Classifier, text: str) -> None:
    response = post(client, "/v1/classify", json.dumps({"text": text, "id": text}).encode())
    assert response.status_code == 200
    assert response.json()["id"] == text  # echoed intact
    assert_result(response.json(), classifier)


@pytest.mark.parametrize("text", ["\u200b\u200c\ufeff", "\u0000\u0001", " \u2060\t\u202e "])
def test_invisible_only_text_is_empty(client: Client, text: str) -> None:
    assert_problem(
        post(client, "/v1/classify", json.dumps({"text": text}).encode()), 422, "/problems/invalid-text"
    )


@pytest.mark.parametrize(
    "body",
    [
        rb'{"text": "hi \ud800 there"}',  # a lone high surrogate escape
        rb'{"text": "\udfff"}',  # a lone low surrogate
        rb'{"text": "ok", "id": "\ud800"}',
        rb'{"items": [{"text": "fine"}, {"text": "\ud800"}]}',
        b'{"text": "\xff\xfe invalid utf-8"}',
        b'{"text": "nul in raw\x00bytes"}',
    ],
)
def test_invalid_unicode_in_the_body_is_400(client: Client, body: bytes) -> None:
    path = "/v1/classify/batch" if body.startswith(b'{"items"') else "/v1/classify"
    assert_problem(post(client, path, body), 400)


@pytest.mark.parametrize("depth", [5000, 200_000])
@pytest.mark.parametrize("path", ["/v1/classify", "/v1/classify/batch"])
def test_deeply_nested_json_is_400(roomy: Client, path: str, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    key = b"items" if path.endswith("batch") else b"text"
    response = post(roomy, path, b'{"' + key + b'": [' + nested + b"]}")
    assert "too deeply" in assert_problem(response, 400, "/problems/invalid-request")["detail"]


def test_nested_batch_item_is_an_error_in_its_slot(client: Client) -> None:
    body = b'{"items": [' + b"[" * 64 + b"]" * 64 + b', {"text": "hello"}]}'
    results = post(client, "/v1/classify/batch", body).json()["results"]
    assert results[0]["error"]["status"] == 400 and "label" in results[1]


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": 1e999}',
        b'{"text": -1e999}',
        b'{"text": 123456789012345678901234567890}',
        b'{"text": "a", "truncate": 1e400}',
        b'{"text": "a", "id": 99999999999999999999999999999999}',
    ],
)
def test_huge_numbers_are_400(client: Client, body: bytes) -> None:
    assert_problem(post(client, "/v1/classify", body), 400)


def test_huge_numbers_in_batch_items_stay_in_their_slot(client: Client) -> None:
    body = b'{"items": [{"text": "hi", "id": 123456789012345678901234567890123}, {"text": "ok there"}]}'
    results = post(client, "/v1/classify/batch", body).json()["results"]
    assert results[0]["error"]["status"] == 400 and "label" in results[1]


def test_megabyte_text_is_refused_fast(client: Client, roomy: Client) -> None:
    body = json.dumps({"text": "a" * 1_000_000}).encode()
    assert_problem(post(client, "/v1/classify", body), 413)  # over a small body limit
    assert_problem(post(roomy, "/v1/classify", body), 422, "/problems/invalid-text")  # over max_chars


def test_megabyte_text_truncated_is_scored_fast(roomy: Client, classifier: Classifier) -> None:
    body = json.dumps({"text": "word " * 200_000, "truncate": True}).encode()
    assert_result(post(roomy, "/v1/classify", body).json(), classifier)


def test_ten_thousand_item_batch_is_413_fast(client: Client, roomy: Client) -> None:
    body = json.dumps({"items": [{"text": f"post {i}"} for i in range(10_000)]}).encode()
    assert_problem(post(client, "/v1/classify/batch", body), 413)
    assert_problem(post(roomy, "/v1/classify/batch", body), 413, "/problems/too-many-items")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b'"text"',
        b"{}",
        b'{"items": null}',
        b'{"items": {}}',
        b"\xef\xbb\xbf{}",
        b"{" * 10,
        b'{"text": "a"} trailing',
    ],
)
def test_degenerate_bodies_are_400(client: Client, body: bytes) -> None:
    path = "/v1/classify/batch" if b"items" in body else "/v1/classify"
    assert_problem(post(client, path, body), 400)


@pytest.mark.parametrize(
    "item",
    [b'{"text": "hi", "id": 1e999}', b'{"text": "hi", "truncate": -1e999}', b'{"text": 1e400}'],
)
def test_a_number_beyond_float_range_stays_in_its_slot(client: Client, item: bytes) -> None:
    """Valid JSON (RFC 8259 sets no range): the item holding the number is invalid, not the batch."""
    body = b'{"items": [' + item + b', {"text": "the valid neighbour is scored"}]}'
    response = post(client, "/v1/classify/batch", body)
    assert response.status_code == 200, response.text
    bad, good = response.json()["results"]
    assert bad["error"]["status"] == 400 and bad["error"]["type"] == "/problems/invalid-request"
    assert "label" in good


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/classify/batch", "/v1/jobs", "/admin/login"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate, gzip", "br"])
def test_a_compressed_body_is_415_not_misread(client: Client, path: str, encoding: str) -> None:
    body = gzip.compress(b'{"text": "a post, compressed"}')
    response = client.post(path, content=body, headers={**JSON, "content-encoding": encoding})
    assert_problem(response, 415, "/problems/unsupported-media-type")
    assert response.headers["accept-encoding"] == "identity"  # RFC 7694: what the server takes


def test_identity_encoding_is_plain(client: Client) -> None:
    body = b'{"text": "a post sent as it is"}'
    response = client.post("/v1/classify", content=body, headers={**JSON, "content-encoding": "identity"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/static/admin.js%00.css", "/static/%00", "/static/..%00/app.py"])
def test_a_nul_byte_in_a_static_path_is_404_without_a_traceback(
    client: Client, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
