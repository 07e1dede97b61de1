"""The app on a real socket, served in a thread of the test process by uvicorn with `dialogic serve`'s own
options: for what the in-process TestClient cannot show (a body that really streams in, a client that
stops sending, what uvicorn makes of forwarding headers). The session's model is reused, not reloaded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
import uvicorn

from model.runtime.classifier import Classifier
from service import app as app_module
from service.cli import server_options
from service.settings import Settings
from tests.cache.test_redis import free_port

STARTUP_S = 60.0


@contextmanager
def live_app(
    classifier: Classifier, settings: Settings, environ: Mapping[str, str] | None = None, **changes: Any
) -> Iterator[str]:
    """The service with `settings` changed by `changes`, at the URL this yields. `environ` stands for the
    process environment uvicorn's own options are read from (FORWARDED_ALLOW_IPS): empty by default."""
    settings = replace(settings, host="127.0.0.1", port=free_port(), **changes)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app_module, "load_classifier", lambda _, threads=None: classifier)
        server = uvicorn.Server(
            uvicorn.Config(app_module.create_app(settings), **server_options(settings, environ or {}))
        )
        thread = threading.Thread(target=server.run, name="live-app", daemon=True)
        thread.start()
        deadline = time.monotonic() + STARTUP_S
        while not server.started:
            assert thread.is_alive(), "uvicorn exited during startup"
            assert time.monotonic() < deadline, f"not serving after {STARTUP_S:.0f} s"
            time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(30)
