"""The jobs' entry points in the `dialogic` CLI route to the jobs package (the commands themselves
are exercised end to end in test_workers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service import cli
from service.jobs import remote, worker
from service.jobs.outputs import Outputs


def test_score_remote_and_worker_commands_route_to_the_jobs_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[Any, ...]] = []

    def record(name: str) -> Any:
        def called(*args: Any) -> int:
            calls.append((name, *args))
            return 0

        return called

    monkeypatch.setattr(remote, "main", record("remote"))
    monkeypatch.setattr(worker, "main", record("worker"))
    monkeypatch.setenv("DIALOGIC_JOB_LEASE_S", "7")
    monkeypatch.setenv("DIALOGIC_REDIS_URL", "redis://127.0.0.1:6379/0")
    posts, labels = tmp_path / "posts.csv", tmp_path / "labels.jsonl"
    posts.write_text("id,text\n1,hello\n")
    assert cli.main(["score", "--remote", "http://api:8000", str(posts), "-o", str(labels)]) == 0
    assert cli.main(["worker"]) == 0
    assert calls[0] == ("remote", "http://api:8000", posts, Outputs(labels), 0)
    assert calls[1][0] == "worker" and calls[1][1].job_lease_s == 7
