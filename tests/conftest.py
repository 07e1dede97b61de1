"""One real app (real model, memory cache) for the whole session: loading the model takes seconds."""

from __future__ import annotations

import os
from collections.abc import Iterator

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from model.classifier import Classifier
from service.app import create_app
from service.runtime import Runtime
from service.settings import Settings

# Small limits so the limit paths are cheap to hit; explicit so DIALOGIC_* in the shell cannot leak in.
TEST_SETTINGS = Settings(max_batch=8, max_chars=200, max_body_bytes=64 * 1024, queue_size=512,
                         torch_threads=1, log_level="INFO")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return TEST_SETTINGS


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as test_client:  # runs the lifespan: load, warm-up, cache, ready
        yield test_client


@pytest.fixture(scope="session")
def runtime(app: Litestar, client: TestClient[Litestar]) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture(scope="session")
def classifier(runtime: Runtime) -> Classifier:
    assert runtime.classifier is not None
    return runtime.classifier
