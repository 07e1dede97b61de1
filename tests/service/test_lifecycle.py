"""Readiness follows the lifespan: 503 before start-up, 200 once warmed up, 503 again while draining."""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import TestClient

from model.runtime.classifier import Classifier
from service import app as app_module
from service.settings import Settings


async def ready_status(application: object) -> tuple[int, dict[str, object]]:
    transport = httpx.ASGITransport(app=application)  # type: ignore[arg-type]  # no lifespan: the app as is
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/health/ready")
        assert (await http.get("/health/live")).status_code == 200
        classify = await http.post("/v1/classify", json={"text": "hello there"})
        assert classify.status_code == 503
        assert classify.headers["content-type"].startswith("application/problem+json")
    return response.status_code, response.json()


async def test_ready_only_between_warm_up_and_shutdown(
    monkeypatch: pytest.MonkeyPatch, classifier: Classifier
) -> None:
    monkeypatch.setattr(app_module, "load_classifier", lambda settings, threads=None: classifier)
    application = app_module.create_app(Settings(model_cpus=1))
    status, body = await ready_status(application)
    assert status == 503 and body["type"] == "/problems/not-ready" and body["phase"] == "starting"
    assert body["model"] == {"loaded": False}

    with TestClient(application) as client:
        assert client.get("/health/ready").status_code == 200

    status, body = await ready_status(application)
    assert status == 503 and body["phase"] == "stopping"


@pytest.mark.parametrize(
    ("configured", "workers"), [(Settings(model_cpus=2), 3), (Settings(model_cpus=2, model_workers=5), 5)]
)
def test_model_workers_default_to_one_more_than_the_cpus(
    monkeypatch: pytest.MonkeyPatch, classifier: Classifier, configured: Settings, workers: int
) -> None:
    monkeypatch.setattr(app_module, "load_classifier", lambda settings, threads=None: classifier)
    application = app_module.create_app(configured)
    with TestClient(application) as client:
        assert client.get("/health/ready").status_code == 200
        runtime = application.state.runtime
        assert runtime.workers == workers
        assert len(runtime.batcher._threads) == workers
