"""The load tooling: `make load`'s SLO gate and shapes, and `make bench`'s verdicts.

Locust runs in subprocesses only: importing it monkey-patches the importing process with gevent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from load.bench import OVERLOAD_CONCURRENCY, Row, targets
from load.server import REPO

SHAPE_AT = """
import json, sys
from types import SimpleNamespace
from load.locustfile import Profile

options = SimpleNamespace(
    load_profile=sys.argv[1], load_duration_s=50.0, load_users=24, load_step_users=4, load_step_s=10.0
)
shape = Profile()
shape.runner = SimpleNamespace(environment=SimpleNamespace(parsed_options=options))
ticks = []
for t in map(float, sys.argv[2:]):
    shape.get_run_time = lambda t=t: t
    ticks.append(shape.tick())
print(json.dumps(ticks))
"""


def ticks(profile: str, *times: float) -> list[list[float] | None]:
    done = subprocess.run(
        [sys.executable, "-c", SHAPE_AT, profile, *map(str, times)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: list[list[float] | None] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_step_profile_adds_users_every_step_up_to_the_maximum_then_stops() -> None:
    assert ticks("step", 0, 9.9, 10, 25, 45, 49.9, 50) == [
        [4, 4.0],
        [4, 4.0],
        [8, 4.0],
        [12, 4.0],
        [20, 4.0],
        [20, 4.0],
        None,
    ]


def test_spike_profile_bursts_to_every_user_in_the_middle_fifth() -> None:
    assert ticks("spike", 0, 19.9, 20, 29.9, 30, 50) == [
        [4, 100.0],
        [4, 100.0],
        [24, 24.0],
        [24, 24.0],
        [4, 100.0],
        None,
    ]


def run_load(reports: Path, **bounds: str) -> subprocess.CompletedProcess[str]:
    """`make load`'s entry point for a few seconds against a real service, with SLO bounds from the
    environment (DIALOGIC_LOAD_*)."""
    env = {**os.environ, "DIALOGIC_LOAD_DURATION_S": "4", "DIALOGIC_LOAD_STEP_S": "2"}
    env |= {f"DIALOGIC_LOAD_{name.upper()}": value for name, value in bounds.items()}
    return subprocess.run(
        [sys.executable, "-m", "load.run", "--reports", str(reports)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.slow
def test_make_load_passes_its_slos_and_writes_reports(tmp_path: Path) -> None:
    done = run_load(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SLO met: error rate 0" in done.stderr
    names = {path.name.split("-step", 1)[1] for path in tmp_path.iterdir()}
    assert {"_stats.csv", "_stats_history.csv", "_failures.csv", ".html", "-service.log"} <= names


@pytest.mark.slow
def test_make_load_fails_when_an_slo_is_missed(tmp_path: Path) -> None:
    done = run_load(tmp_path, min_rps="1000000", max_p99_ms="0.001")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SLO missed: requests/s" in done.stderr and "SLO missed: p99 ms" in done.stderr
    assert "load: FAIL" in done.stdout


def measured(name: str, concurrency: int, posts_per_s: float, p99_ms: float = 10.0, **counts: int) -> Row:
    """A row as `drive` leaves it: `posts_per_s` over one second, every latency `p99_ms`."""
    ok = round(posts_per_s)
    return Row(name, concurrency, 1, seconds=1.0, ok=ok, latencies_ms=[p99_ms] * max(ok, 2), **counts)


def verdicts(rows: list[Row]) -> dict[str, bool]:
    return {name: passed for name, _, passed in targets(rows)}


def test_bench_targets_pass_at_their_bounds_and_fail_beyond() -> None:
    overload = measured("service overload", OVERLOAD_CONCURRENCY, 100, rejected=500)
    overload.rejected_ms = [100.0] * 500
    passing = [
        measured("service", 64, 250),  # 1.25x the peer
        measured("naive (int8)", 64, 200),
        measured("naive", 64, 20),  # history: never a denominator
        measured("service", 16, 200, p99_ms=100),
        measured("service cached", 32, 4000),
        overload,
    ]
    assert verdicts(passing) == {
        "service c=64 >= 1.25x naive (int8) c=64": True,
        "service c=16 p99 <= 100 ms": True,
        "cached >= 4000 req/s": True,
        "overload c=512: zero timeouts": True,
        "overload c=512: 503 p99 <= 100 ms": True,
    }
    slow_refusals = measured("service overload", OVERLOAD_CONCURRENCY, 100, timeouts=1, rejected=500)
    slow_refusals.rejected_ms = [101.0] * 500
    failing = [
        measured("service", 64, 249),
        *passing[1:3],
        measured("service", 16, 200, p99_ms=101),
        measured("service cached", 32, 3999),
        slow_refusals,
    ]
    assert not any(verdicts(failing).values())


def test_bench_reports_no_verdict_on_what_it_did_not_measure() -> None:
    assert verdicts([measured("service", 16, 200)]) == {"service c=16 p99 <= 100 ms": True}
    assert verdicts([measured("service", 64, 500), measured("naive", 64, 100)]) == {}
