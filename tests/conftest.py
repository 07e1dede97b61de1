"""One real app (real model, memory cache) for the whole session: loading the model takes seconds.

The service imports (torch among them) happen inside the fixtures, so test folders that never ask for
the app do not pay for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import TestClient
    from playwright.sync_api import Browser

    from model.runtime.classifier import Classifier
    from service.runtime import Runtime
    from service.settings import Settings

os.environ["HF_HUB_OFFLINE"] = "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def settings() -> Settings:
    from service.settings import Settings

    # Small limits so the limit paths are cheap to hit; explicit so DIALOGIC_* in the shell cannot leak in.
    return Settings(max_batch=8, max_chars=200, max_body_bytes=64 * 1024, queue_size=512, model_cpus=1)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    from service.app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    from litestar.testing import TestClient

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright, for the admin and report tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
