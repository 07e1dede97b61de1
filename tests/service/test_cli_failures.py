"""The `dialogic` command as a person meets it: a real subprocess, a real server over HTTP. Every
failure a person can expect is one line on stderr and the exit code the README documents, never a
traceback; the remote client starts without torch or transformers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.runtime.classifier import Classifier
from service.exits import Exit
from service.security import hash_key
from service.settings import PREFIX, Settings
from tests.cache.test_redis import free_port
from tests.jobs.conftest import REDIS_URL, purge
from tests.live import live_app

DIALOGIC = Path(sys.executable).with_name("dialogic")
KEY = "cli-test-key"
POST = b'{"id": 1, "text": "@ann thanks, see you there?"}\n'


def run(
    *args: str, key: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)} | (env or {})
    environ |= {"HF_HUB_OFFLINE": "1"} | ({"DIALOGIC_REMOTE_API_KEY": key} if key else {})
    return subprocess.run(
        [str(DIALOGIC), *args], env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def one_line(result: subprocess.CompletedProcess[str], code: Exit, *fragments: str) -> str:
    """The failure's single stderr line, after checking the exit code and that nothing else was said."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def server(classifier: Classifier, settings: Settings) -> Iterator[str]:
    """Jobs on the shared Redis, behind one API key, with a 1 KB upload limit."""
    prefix = f"dialogic-clitest-{os.getpid()}"
    changes = {
        "redis_url": REDIS_URL,
        "cache_prefix": prefix,
        "api_keys": hash_key(KEY),
        "max_upload_bytes": 1000,
    }
    with live_app(classifier, settings, **changes) as url:
        yield url
    purge(prefix)


@pytest.fixture
def posts(tmp_path: Path) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_bytes(POST)
    return path


def test_a_service_that_is_not_there_is_exit_3(posts: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line(
        run("score", "--remote", url, str(posts), "-o", str(posts.with_suffix(".out"))), Exit.UNREACHABLE
    )
    assert line.startswith(f"dialogic score: cannot reach {url}: ")
    assert not posts.with_suffix(".out").exists()


def test_a_missing_or_wrong_key_is_exit_4(server: str, posts: Path) -> None:
    out = str(posts.with_suffix(".out"))
    one_line(run("score", "--remote", server, str(posts), "-o", out), Exit.REFUSED, "401", "X-API-Key")
    one_line(run("score", "--remote", server, str(posts), "-o", out, key="wrong"), Exit.REFUSED, "401")


def test_a_file_over_the_upload_limit_is_exit_2(server: str, tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(POST * 50)
    result = run("score", "--remote", server, str(big), "-o", str(tmp_path / "out.jsonl"), key=KEY)
    one_line(result, Exit.INPUT, "413", "larger than the limit of 1000 bytes")


def test_a_file_without_a_post_is_exit_2_on_both_paths(server: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("id,text\n")
    out = str(tmp_path / "out.jsonl")
    one_line(run("score", "--remote", server, str(empty), "-o", out, key=KEY), Exit.INPUT, "422", "no post")
    here = run("score", str(empty), "-o", out)  # locally: after the model's loading lines, the same rule
    assert here.returncode == Exit.INPUT and "Traceback" not in here.stderr
    assert here.stderr.strip().splitlines()[-1] == f"dialogic score: {empty}: " + (
        "the file holds no post: it is empty, or has only blank lines or a header"
    )
    assert list(tmp_path.iterdir()) == [empty]


def test_jobs_without_redis_are_exit_5(classifier: Classifier, settings: Settings, posts: Path) -> None:
    with live_app(classifier, settings) as url:
        result = run("score", "--remote", url, str(posts), "-o", str(posts.with_suffix(".out")))
    one_line(result, Exit.UNAVAILABLE, "503", "DIALOGIC_REDIS_URL")


def test_missing_inputs_are_exit_2_before_anything_loads(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    one_line(
        run("score", str(missing), "-o", str(tmp_path / "out.jsonl")), Exit.INPUT, f"{missing}: no such file"
    )
    (tmp_path / "posts.jsonl").write_bytes(POST)
    result = run("score", str(tmp_path / "posts.jsonl"), "-o", str(tmp_path / "no" / "out.jsonl"))
    one_line(result, Exit.INPUT, "its folder does not exist")
    line = one_line(run("data", "build", "--data", str(tmp_path / "data")), Exit.INPUT, "no data folder at")
    assert "../shared/data" in line


def test_a_worker_without_redis_says_so_before_it_loads_the_model() -> None:
    one_line(run("worker"), Exit.INPUT, "batch jobs need Redis: set DIALOGIC_REDIS_URL")
    url = f"redis://127.0.0.1:{free_port()}/0"
    one_line(run("worker", env={"DIALOGIC_REDIS_URL": url}), Exit.UNREACHABLE, f"cannot reach Redis at {url}")


def test_the_remote_client_imports_neither_torch_nor_transformers(posts: Path) -> None:
    probe = (
        "import sys; from service.cli import main; code = main(sys.argv[1:]); "
        "print(sorted(m for m in ('torch', 'transformers', 'onnxruntime') if m in sys.modules)); "
        "raise SystemExit(code)"
    )
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "score",
            "--remote",
            url,
            str(posts),
            "-o",
            str(posts.with_suffix(".out")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == Exit.UNREACHABLE, result.stderr
    assert result.stdout.strip() == "[]"
