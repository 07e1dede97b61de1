"""A model actor killed mid-run (SIGKILL, as the OOM killer or a lost node would): Ray restarts it,
retries its batch, and `dialogic bulk` still writes every post exactly once. Run through the CLI, on
filesystem URIs, with JSONL output: the other format."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from load.procs import BULK_ACTORS, descendants_titled
from service import cli
from tests.bulk.conftest import posts, write_jsonl

# CPU seconds an actor has spent before it is killed: past loading the model (about 2), well short of
# its half of the posts (about 10), whatever the machine's load, since this is CPU time, not wall time.
KILL_AFTER_CPU_S = 4.0


def test_a_killed_actor_is_restarted_and_its_batch_retried(tmp_path: Path, local_ray: None) -> None:
    rows = posts(4000, seed=1)
    write_jsonl(tmp_path / "posts.jsonl", rows)
    output = tmp_path / "out"
    exit_code: list[int] = []
    # INPUT and OUTPUT as pyarrow filesystem URIs: file://, the one here (s3:// takes the same path)
    argv = [
        "bulk",
        f"file://{tmp_path}/posts.jsonl",
        f"file://{output}",
        "--actors",
        "2",
        "--format",
        "jsonl",
    ]
    worker = threading.Thread(target=lambda: exit_code.append(cli.main(argv)))
    worker.start()
    killed, seen = None, set()
    while worker.is_alive():
        busy = descendants_titled(BULK_ACTORS)
        seen |= set(busy)
        if killed is None and len(busy) == 2 and max(busy.values()) >= KILL_AFTER_CPU_S:
            killed = max(busy, key=busy.__getitem__)
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    worker.join()
    assert exit_code == [0]
    assert killed is not None, "the run ended before an actor was busy enough to kill"
    assert len(seen - {killed}) >= 2, "no actor took the killed one's place"
    results = [json.loads(line) for f in sorted((output / "results").iterdir()) for line in f.open()]
    assert Counter(r["id"] for r in results) == Counter(row["id"] for row in rows)  # each exactly once
    assert json.loads((output / "summary.json").read_text())["rows"] == len(rows)
