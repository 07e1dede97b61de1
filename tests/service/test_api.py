"""The HTTP contract, against the real app and the real model."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from model.runtime.classifier import LABELS, Classifier
from service.runtime import Runtime
from service.settings import Settings

Client = TestClient[Litestar]


def assert_problem(response: httpx.Response, status: int, type_: str | None = None) -> dict[str, Any]:
    """Every error is an RFC 9457 problem document with the same status in the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["type"], str)
    if type_ is not None:
        assert body["type"] == type_
    return body


def assert_result(result: dict[str, Any], classifier: Classifier) -> None:
    assert result["label"] in LABELS
    assert set(result["scores"]) == set(LABELS)
    assert result["scores"][result["label"]] == max(result["scores"].values())
    assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert result["model"] == {"name": classifier.name, "version": classifier.version}
    assert isinstance(result["cached"], bool)


def test_classify_echoes_id_and_scores(client: Client, classifier: Classifier) -> None:
    body = {"text": "@user sorry to hear that, DM us your order", "id": "c-1"}
    response = client.post("/v1/classify", json=body)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "c-1"
    assert_result(body, classifier)


def test_classify_generates_id_and_second_call_is_cached(client: Client) -> None:
    text = "Big summer sale starts today, 20% off everything in store!"
    first = client.post("/v1/classify", json={"text": text}).json()
    second = client.post("/v1/classify", json={"text": text}).json()
    assert len(first["id"]) == 32 and int(first["id"], 16) >= 0
    assert first["id"] != second["id"]
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["scores"] == second["scores"]


def test_truncate_scores_the_prefix(client: Client, settings: Settings) -> None:
    prefix = "Read our new blog post about autumn recipes " * 10
    long_text = prefix[: settings.max_chars] + " and more" * 20
    truncated = client.post("/v1/classify", json={"text": long_text, "truncate": True})
    assert truncated.status_code == 200
    direct = client.post("/v1/classify", json={"text": prefix[: settings.max_chars]}).json()
    assert truncated.json()["scores"] == direct["scores"] and direct["cached"] is True


@pytest.mark.parametrize(
    ("body", "status", "type_"),
    [
        ({"text": ""}, 422, "/problems/invalid-text"),
        ({"text": " \n\t "}, 422, "/problems/invalid-text"),
        ({"text": "x" * 201}, 422, "/problems/invalid-text"),
        ({"text": 42}, 400, "/problems/invalid-request"),
        ({"text": "hello", "truncate": "maybe"}, 400, "/problems/invalid-request"),
        ({"text": "hello", "colour": "red"}, 400, "/problems/invalid-request"),
        ({"id": "no-text"}, 400, "/problems/invalid-request"),
        (["not", "an", "object"], 400, None),
    ],
)
def test_classify_rejects_bad_bodies(client: Client, body: Any, status: int, type_: str | None) -> None:
    body_doc = assert_problem(client.post("/v1/classify", json=body), status, type_)
    if status == 400 and type_ is not None:
        assert body_doc["errors"] and all("message" in e for e in body_doc["errors"])


def test_malformed_json_is_400(client: Client) -> None:
    response = client.post(
        "/v1/classify", content=b'{"text": "unterminated', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)


def test_wrong_media_type_is_415(client: Client) -> None:
    response = client.post("/v1/classify", content=b"text=hello", headers={"content-type": "text/plain"})
    assert_problem(response, 415, "/problems/unsupported-media-type")
    form = client.post("/v1/classify/batch", data={"items": "x"})
    assert_problem(form, 415, "/problems/unsupported-media-type")


def test_body_too_large_is_413(client: Client, settings: Settings) -> None:
    body = json.dumps({"text": "a" * settings.max_body_bytes}).encode()
    response = client.post("/v1/classify", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 413)


def test_not_found_and_method_not_allowed(client: Client) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404)
    assert_problem(client.get("/v1/classify"), 405)
    assert_problem(client.delete("/v1/model"), 405)


def test_internal_error_is_a_500_problem_that_leaks_nothing(
    client: Client, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(texts: list[str]) -> list[Any]:
        raise RuntimeError(f"exploded on {texts[0]}")

    monkeypatch.setattr(runtime.scorer, "score", boom)
    response = client.post("/v1/classify", json={"text": "secret-post-content"})
    body = assert_problem(response, 500, "/problems/internal")
    assert "secret-post-content" not in response.text and "exploded" not in body["detail"]


def test_full_queue_is_503_with_retry_after(
    client: Client, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runtime.batcher is not None
    monkeypatch.setattr(runtime.batcher, "capacity", 1)
    texts = ["Queue test one: new podcast episode out now", "Queue test two: join our webinar next week"]
    response = client.post("/v1/classify/batch", json={"items": [{"text": t} for t in texts]})
    assert_problem(response, 503, "/problems/overloaded")
    assert int(response.headers["retry-after"]) >= 1


def test_batch_order_and_errors_in_slots(client: Client, classifier: Classifier) -> None:
    items: list[Any] = [
        {"id": "a", "text": "@user congrats on the new job, so happy for you"},
        {"id": "b", "text": "   "},
        {"id": "c", "text": 7},
        "just a string",
        {"id": "e", "text": "Flash sale tonight only http", "extra": 1},
        {"id": "f", "text": "y" * 201},
        {"id": "g", "text": "y" * 201, "truncate": True},
        {"text": "We are hiring engineers, apply at http"},
    ]
    response = client.post("/v1/classify/batch", json={"items": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(items)
    assert [r["id"] for r in results[:7]] == ["a", "b", "c", None, "e", "f", "g"]
    assert len(results[7]["id"]) == 32
    for i in (0, 6, 7):
        assert "error" not in results[i]
        assert_result(results[i], classifier)
    expected_errors = {1: 422, 2: 400, 3: 400, 4: 400, 5: 422}
    for i, status in expected_errors.items():
        error = results[i]["error"]
        assert error["status"] == status and error["title"] and error["detail"] and error["type"]
        assert "label" not in results[i]
    single = client.post("/v1/classify", json={"text": items[0]["text"]}).json()
    assert single["scores"] == results[0]["scores"]


def test_batch_limits(client: Client, settings: Settings) -> None:
    too_many = {"items": [{"text": f"post number {i}"} for i in range(settings.max_batch + 1)]}
    assert_problem(client.post("/v1/classify/batch", json=too_many), 413, "/problems/too-many-items")
    not_a_list = client.post("/v1/classify/batch", json={"items": "nope"})
    assert_problem(not_a_list, 400, "/problems/invalid-request")
    assert_problem(client.post("/v1/classify/batch", json={"items": [], "x": 1}), 400)
    empty = client.post("/v1/classify/batch", json={"items": []})
    assert empty.status_code == 200 and empty.json() == {"results": []}


def test_model_info(client: Client, classifier: Classifier) -> None:
    body = client.get("/v1/model").json()
    assert body == {
        "name": classifier.name,
        "version": classifier.version,
        "labels": list(LABELS),
        "backend": "int8",  # the default: same gold F1 as fp32, faster
        "metrics": classifier.metrics,
    }


def test_health(client: Client) -> None:
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["model"]["loaded"] is True
    assert body["cache"]["backend"] == "memory" and body["queue_depth"] >= 0
    assert body["jobs"] == {"backend": None} and body["workers"] == {"alive": None, "last_heartbeat": None}


def test_the_front_page_links_everything_and_every_link_answers(
    client: Client, classifier: Classifier
) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = client.get("/", headers={"accept": "application/json"}).json()
    assert links["model"] == f"{classifier.name} {classifier.version}" and links["phase"] == "ready"
    hrefs = [link["href"] for link in links["links"]]
    assert {"/schema/swagger", "/schema/openapi.json", "/health/ready", "/v1/model", "/admin"} <= set(hrefs)
    for href in hrefs:
        assert f'href="{href}"' in page.text
        assert client.get(href, follow_redirects=False).status_code in (200, 303), href  # /admin: to log in


def test_the_document_shows_examples_and_only_problem_errors(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    assert "securitySchemes" not in document.get("components", {})  # no keys configured: no scheme
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                assert media.get("examples") or media["schema"].get("examples"), (method, path)
            for parameter in operation.get("parameters", []):
                assert parameter["examples"], (method, path, parameter["name"])


def test_openapi_and_docs_ui(client: Client) -> None:
    spec = client.get("/schema/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"/v1/classify", "/v1/classify/batch", "/v1/model", "/health/live", "/health/ready"} <= set(paths)
    for ui in ("/schema", "/schema/swagger"):
        page = client.get(ui)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_request_id_is_echoed_or_generated(client: Client) -> None:
    echoed = client.get("/health/live", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(client.get("/health/live").headers["x-request-id"]) == 32


async def test_100_concurrent_requests(app: Litestar, client: Client, classifier: Classifier) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        responses = await asyncio.gather(
            *[
                http.post(
                    "/v1/classify", json={"id": f"req-{i}", "text": f"@user order {i} shipped, thanks!"}
                )
                for i in range(100)
            ]
        )
    assert [r.status_code for r in responses] == [200] * 100
    assert [r.json()["id"] for r in responses] == [f"req-{i}" for i in range(100)]
    for r in responses:
        assert_result(r.json(), classifier)
