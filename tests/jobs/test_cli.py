"""The jobs' entry points in the `dialogic` CLI route to the jobs package (the commands themselves
are exercised end to end in test_workers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service import cli
from service.jobs import remote, worker


def test_score_remote_and_worker_commands_route_to_the_jobs_package(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def record(name: str) -> Any:
        def called(*args: Any) -> int:
            calls.append((name, *args))
            return 0

        return called

    monkeypatch.setattr(remote, "main", record("remote"))
    monkeypatch.setattr(worker, "main", record("worker"))
    monkeypatch.setenv("DIALOGIC_JOB_LEASE_S", "7")
    assert cli.main(["score", "--remote", "http://api:8000", "posts.csv", "-o", "labels.jsonl"]) == 0
    assert cli.main(["worker"]) == 0
    assert calls[0] == ("remote", "http://api:8000", Path("posts.csv"), Path("labels.jsonl"))
    assert calls[1][0] == "worker" and calls[1][1].job_lease_s == 7
