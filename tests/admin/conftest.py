"""One real `dialogic serve` process for the admin and /metrics tests, started once for this folder.

A subprocess rather than the in-process app: the browser needs a real socket, and /metrics must be what
a scraper sees. The server uses the shared Redis under a throwaway prefix, so a flush touches nothing else.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.jobs.conftest import purge

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
STARTUP_S = 180.0  # a shared, busy machine can take a while to load the model


@dataclass(frozen=True)
class Server:
    url: str
    admin_key: str
    log: Path
    prefix: str  # its DIALOGIC_CACHE_PREFIX, which a worker for its jobs must share


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on an admin page."""
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port, key = _free_port(), secrets.token_urlsafe(24)
    prefix = f"dialogic-admin-test-{uuid.uuid4().hex[:10]}"
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGIC_")}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the tests act as the proxy in front of it
            "DIALOGIC_ADMIN_KEY": key,
            "DIALOGIC_SESSION_SECRET": secrets.token_urlsafe(32),
            "DIALOGIC_REDIS_URL": "redis://127.0.0.1:6379/0",
            "DIALOGIC_REDIS_TIMEOUT_MS": "1000",  # a busy shared machine: tests check behaviour
            "DIALOGIC_CACHE_PREFIX": prefix,
            "DIALOGIC_MODEL_CPUS": "1",
            "DIALOGIC_MAX_CHARS": "200",
        }
    )
    dialogic = Path(sys.executable).with_name("dialogic")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(dialogic), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dialogic serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dialogic serve not ready after {STARTUP_S:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(url, key, log, prefix)
    finally:
        # Leave no results behind in the shared Redis: flush them the way an admin would (the login
        # counters expire by themselves).
        with contextlib.suppress(httpx.HTTPError, IndexError), httpx.Client(base_url=url, timeout=10) as http:
            http.post("/admin/login", data={"key": key})
            http.post("/admin/flush", data={"csrf": csrf_token(http.get("/admin/flush").text)})
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        purge(prefix)  # the jobs and workers the tests left


@pytest.fixture(scope="package")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client
