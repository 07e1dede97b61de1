"""/metrics as a scraper sees it, from the real server: names present, route templates as labels,
counters moving with traffic; and the metrics module summed across processes in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.admin.conftest import ROOT

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(http: httpx.Client) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels` (0 when there are none yet)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def classify(http: httpx.Client, text: str) -> dict[str, object]:
    response = http.post("/v1/classify", json={"text": text})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_metric_names_are_exposed(http: httpx.Client) -> None:
    classify(http, f"warming the counters {uuid.uuid4().hex}")
    names = {n for n, _ in scrape(http)}
    for name in (
        "dialogic_http_requests_total",
        "dialogic_http_request_duration_seconds_bucket",
        "dialogic_batch_size_bucket",
        "dialogic_queue_depth",
        "dialogic_model_load_seconds",
        "dialogic_predictions_total",
        "dialogic_cache_lookups_total",
        "dialogic_cache_breaker_state",
    ):
        assert name in names, name
    assert value(scrape(http), "dialogic_model_load_seconds") > 0


def test_counters_follow_traffic(http: httpx.Client) -> None:
    before = scrape(http)
    texts = [f"@friend are we still on for lunch {uuid.uuid4().hex}?" for _ in range(3)]
    labels = [classify(http, text)["label"] for text in texts]
    classify(http, texts[0])  # a repeat: a cache hit
    after = scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("dialogic_http_requests_total", method="POST", route="/v1/classify", status="200") == 4
    assert delta("dialogic_http_request_duration_seconds_count", method="POST", route="/v1/classify") == 4
    assert delta("dialogic_predictions_total") == 4
    for label in set(labels):
        assert delta("dialogic_predictions_total", label=str(label)) >= labels.count(label)
    assert delta("dialogic_batch_size_count") >= 1 and delta("dialogic_batch_size_sum") >= 3
    assert delta("dialogic_cache_lookups_total", result="hit") >= 1
    assert delta("dialogic_cache_lookups_total", result="miss") >= 3


def test_routes_are_labelled_by_template(http: httpx.Client) -> None:
    assert http.get("/static/admin.css").status_code == 200
    assert http.get("/static/favicon.svg").status_code == 200
    routes = {dict(ls).get("route") for n, ls in scrape(http) if n == "dialogic_http_requests_total"}
    assert "/static/{file_path}" in routes and "/v1/classify" in routes
    assert not {r for r in routes if r and (r.endswith(".css") or r.endswith(".svg"))}


SCRIPT = """
import sys
from service.metrics import HTTP_REQUESTS, QUEUE_DEPTH, release_process
HTTP_REQUESTS.labels("POST", "/v1/classify", "200").inc(int(sys.argv[1]))
QUEUE_DEPTH.set(int(sys.argv[1]))
if sys.argv[2] == "exit":
    release_process()
"""

SCRAPE = """
from litestar import Litestar
from litestar.testing import TestClient
from service.web import MetricsController
with TestClient(Litestar([MetricsController])) as client:
    print(client.get("/metrics").text)
"""


def test_multiprocess_mode_sums_workers(tmp_path: Path) -> None:
    """Two 'workers' write to PROMETHEUS_MULTIPROC_DIR; /metrics in a third process sums them, and the
    queue-depth gauge counts only live workers (one exited cleanly, one is still 'running')."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}

    def python(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    python("-c", SCRIPT, "2", "stay")
    python("-c", SCRIPT, "5", "exit")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(python("-c", SCRAPE))
        for s in family.samples
    }
    assert value(samples, "dialogic_http_requests_total", route="/v1/classify") == 7
    assert value(samples, "dialogic_queue_depth") == 2
