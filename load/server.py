"""Start a server as a subprocess on a free local port, wait until it is ready, stop it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
READY_PATH = "/health/ready"
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s")


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pid: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads): a measure of cost
        that, unlike wall time, other load on the machine barely changes."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    ready_timeout_s: float = 120.0,
) -> Iterator[Server]:
    """Run `argv` (which must bind HOST and the port given in DIALOGIC_HOST/DIALOGIC_PORT) and yield
    it once READY_PATH answers 200; SIGTERM on exit, SIGKILL if it lingers. Its output
    goes to `log_path` when given."""
    port = free_port()
    child_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(env or {}),
        "DIALOGIC_HOST": HOST,
        "DIALOGIC_PORT": str(port),
    }
    log = log_path.open("wb") if log_path else None
    proc = subprocess.Popen(
        list(argv), cwd=REPO, env=child_env, stdout=log, stderr=subprocess.STDOUT if log else None
    )
    server = Server(HOST, port, proc.pid)
    try:
        wait_ready(server.base + READY_PATH, proc, ready_timeout_s)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log:
            log.close()


def service_argv() -> list[str]:
    """`dialogic serve`, the console script installed beside this interpreter (no PATH needed)."""
    return [str(Path(sys.executable).with_name("dialogic")), "serve"]


def naive_argv() -> list[str]:
    return [sys.executable, "-m", "load.baseline.naive"]
