"""Bulk scoring throughput: the bulk pipeline on a local Ray with 1 and 2 actors, beside the model ceiling.

    python -m load.bench_bulk [--posts 5000] [--small 200] [--rounds 2] [--ceiling-seconds 10]

Each round runs, in turn, the in-process int8 ceiling (load/bench.py's `run_passes`: one thread per
CPU, one text per pass, no Ray) and `dialogic bulk`'s own pipeline (service/bulk/run.Pipeline: read,
the upload's row rule, the actors' Scorer and model) on the same posts (a JSONL file of real posts from
../shared/data, with authors and times), for 1 and then 2 CPUs; every other round reverses the
order, so the host's drift (other tenants) weighs on both. Runs of `--small` posts carry only the fixed
cost (Ray's start of the run, the actors' model loads), so the steady rate is the extra posts of the
large runs over their extra seconds, and the CPU a post is the extra CPU seconds of the model actors
(from /proc, so other tenants' load does not count) over the extra posts. Each phase notes how busy
the whole host was (/proc/stat) and, for the ceiling, the share of a CPU each of its threads got:
the other engineers on this machine show there.
Prints a table and writes load/reports/bench-bulk-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import fmean as mean
from typing import Any, cast

import pyarrow as pa

from load.bench import REPORTS, Row, run_passes
from load.procs import BULK_ACTORS, descendants_titled
from load.server import REPO
from load.texts import load_posts
from model.runtime.classifier import Classifier
from model.runtime.onnx_int8 import describe_cpu


@dataclass
class Phase:
    name: str
    cpus: int
    posts: int
    seconds: float
    host_busy: float  # share of the host's CPUs busy during the phase, everyone's work included
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def posts_per_s(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0


@contextmanager
def host_load() -> Iterator[dict[str, float]]:
    """How busy all of the host's CPUs were while the body ran (1.0: every CPU all the time)."""
    seen: dict[str, float] = {}
    before = _jiffies()
    yield seen
    busy, total = (after - first for after, first in zip(_jiffies(), before, strict=True))
    seen["busy"] = busy / total if total else 0.0


def _jiffies() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def write_posts(path: Path, count: int) -> None:
    """`count` real posts, 100 authors, a post a minute each."""
    start = datetime(2024, 5, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for i, text in enumerate(load_posts(count)):
            when = (start + timedelta(minutes=i // 100)).isoformat()
            out.write(
                json.dumps({"id": i, "text": text, "author": f"brand{i % 100}", "created_at": when}) + "\n"
            )


def ceiling(classifier: Classifier, texts: list[str], cpus: int, seconds: float) -> Phase:
    chunks = [[t] for t in texts]
    random.Random(cpus).shuffle(chunks)
    with host_load() as load:
        row = run_passes(classifier, chunks, cpus, seconds, Row(f"ceiling int8 ({cpus}x1 thread)", 1, 1))
    share = row.cpu_s / row.seconds / cpus if row.seconds else 0.0
    detail = {"cpu_share_per_thread": round(share, 2), "cpu_ms_per_post": round(row.cpu_ms_per_post or 0, 2)}
    return Phase(row.name, cpus, row.ok, row.seconds, load["busy"], detail)


def scoring(source: Path, actors: int) -> Phase:
    """The bulk pipeline's results streamed to this process, timed to the last batch, with the CPU
    seconds its model actors spent (read from /proc while they live: Ray ends them with the run)."""
    from service.bulk.run import BATCH_ROWS, Pipeline
    from service.settings import Settings

    pipeline = Pipeline.of(str(source), Settings.from_env(), actors, BATCH_ROWS)
    first: dict[int, float] = {}  # CPU seconds when first seen: Ray may reuse a worker process
    last: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.25):
            seen = descendants_titled(BULK_ACTORS)
            last.update(seen)
            for pid, seconds in seen.items():
                first.setdefault(pid, seconds)

    sampler = threading.Thread(target=sample)
    sampler.start()
    with host_load() as load:
        started, rows = time.perf_counter(), 0
        for batch in pipeline.results.iter_batches(batch_size=None, batch_format="pyarrow"):
            rows += cast(pa.Table, batch).num_rows
        seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    name = f"bulk, {actors} actor{'s' * (actors > 1)}"
    return Phase(
        name,
        actors,
        rows,
        seconds,
        load["busy"],
        {"actor_cpu_s": round(sum(last[p] - first[p] for p in last), 2)},
    )


def steady(phases: list[Phase], large: int, small: int) -> list[dict[str, Any]]:
    """Per actor count: the large runs' extra posts over their extra wall time and actor CPU time,
    against the small runs (which carry the same fixed cost: Ray's start, the actors' model loads),
    beside the ceiling's posts/s and CPU-ms a post."""
    rows = []
    for cpus in (1, 2):
        runs = {
            n: [p for p in phases if p.cpus == cpus and p.name.startswith("bulk") and p.posts == n]
            for n in (large, small)
        }
        wall = mean([p.seconds for p in runs[large]]) - mean([p.seconds for p in runs[small]])
        cpu = mean([p.detail["actor_cpu_s"] for p in runs[large]]) - mean(
            [p.detail["actor_cpu_s"] for p in runs[small]]
        )
        ceilings = [p for p in phases if p.cpus == cpus and p.name.startswith("ceiling")]
        rows.append(
            {
                "cpus": cpus,
                "bulk_posts_per_s": round((large - small) / wall, 1),
                "bulk_cpu_ms_per_post": round(1000 * cpu / (large - small), 2),
                "fixed_s": round(mean([p.seconds for p in runs[small]]), 1),
                "ceiling_posts_per_s": round(mean([p.posts_per_s for p in ceilings]), 1),
                "ceiling_cpu_ms_per_post": round(mean([p.detail["cpu_ms_per_post"] for p in ceilings]), 2),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.bench_bulk", description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=5000, help="posts per bulk run")
    parser.add_argument(
        "--small", type=int, default=200, help="posts per run that carries only the fixed cost"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds of turns (order reversed every other)")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0, help="seconds per ceiling phase")
    args = parser.parse_args(argv)

    from service.bulk.run import connect

    connect()
    classifier = Classifier.load(None, "int8", threads=1)
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as work:
        source = Path(work) / "posts.jsonl"
        write_posts(source, args.posts)
        texts = [json.loads(line)["text"] for line in source.open(encoding="utf-8")]
        classifier.predict(texts[:32])  # first passes: lazy allocations
        small = Path(work) / "small.jsonl"
        write_posts(small, args.small)
        for round_ in range(args.rounds):
            turns = ["ceiling", source, small]
            for cpus in (1, 2) if round_ % 2 == 0 else (2, 1):
                for turn in turns if round_ % 2 == 0 else turns[::-1]:
                    if isinstance(turn, Path):
                        phases.append(scoring(turn, cpus))
                    else:
                        phases.append(ceiling(classifier, texts, cpus, args.ceiling_seconds))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    print(
        f"\nDialogic bulk bench {stamp} UTC, {platform.node()}, {os.cpu_count()} CPUs ({describe_cpu()}), "
        f"{args.posts} and {args.small} posts per bulk run, {args.rounds} rounds\n"
    )
    print(
        f"{'phase':<30} {'cpus':>4} {'posts':>6} {'s':>6} {'posts/s':>8} {'per cpu':>8} {'host busy':>9}"
        "  notes"
    )
    for p in phases:
        share = p.detail.get("cpu_share_per_thread")
        note = (
            f"each thread got {share:.0%} of a CPU"
            if share is not None
            else f"actors' CPU {p.detail['actor_cpu_s']} s"
        )
        print(
            f"{p.name:<30} {p.cpus:>4} {p.posts:>6} {p.seconds:>6.1f} {p.posts_per_s:>8.1f} "
            f"{p.posts_per_s / p.cpus:>8.1f} {p.host_busy:>9.0%}  {note}"
        )
    derived = steady(phases, args.posts, args.small)
    print()
    for row in derived:
        print(
            f"{row['cpus']} CPU(s): bulk {row['bulk_posts_per_s']} posts/s at "
            f"{row['bulk_cpu_ms_per_post']} CPU-ms a post "
            f"(fixed cost {row['fixed_s']} s a run); ceiling {row['ceiling_posts_per_s']} posts/s at "
            f"{row['ceiling_cpu_ms_per_post']} CPU-ms a post"
        )
    REPORTS.mkdir(parents=True, exist_ok=True)
    out = REPORTS / f"bench-bulk-{stamp}.json"
    report = {
        "date": stamp,
        "machine": {"node": platform.node(), "cpus": os.cpu_count(), "processor": describe_cpu()},
        "posts": args.posts,
        "rounds": args.rounds,
        "phases": [asdict(p) | {"posts_per_s": round(p.posts_per_s, 1)} for p in phases],
        "steady": derived,
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
