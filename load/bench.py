"""One benchmark run: model ceiling vs service vs naive baseline vs cache vs overload.

    python -m load.bench [--duration 10] [--backend fp32] [--redis-url URL | --no-redis]

(a) in-process ceiling: posts/s of `Classifier.predict` (normalise, tokenise, forward, softmax) on
    length-sorted passes of 1, 8 and 32 texts (fp32) and of 1 (int8 runs one text per pass), one
    single-threaded pass per model CPU side by side, as the service's workers run them;
(b) the service (`dialogic serve`), uncached: single items at concurrency 1/16/64 and batches of 32;
    every text carries a unique token, so nothing comes from the result cache;
(c) the peer: the naive server (load/baseline/naive.py) with the same int8 model, one pass per
    request, under the same single-item load; and, as history, the naive server with the fp32 model
    (the first baseline) at concurrency 64;
(d) the cached path: a small set of texts, warmed once, then repeated;
(e) overload: 512 concurrent single-item clients, counting 200s, 503s and client timeouts.

Throughput and latency come from N client workers, each on its own keep-alive connection, for a
bounded duration. The client (load/rawhttp.py, 0.1-0.2 CPU-ms per request; httpx took 5) runs on the
same machine, so it still takes some CPU from the server: compare the ratios within one run.
The servers run side by side, and at each concurrency the service and the naive servers take turns
in `--rounds` slices, the order reversed every other round: the host's speed drifts by a third within
minutes (other tenants), and a ratio of two phases measured minutes apart measured the drift as much
as the servers.
Prints a table and PASS/FAIL against the targets (the exit code is 0 either way) and writes
load/reports/bench-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from load.rawhttp import Connection, ConnectionClosed
from load.server import REPO, Server, naive_argv, serve, service_argv
from load.texts import TextSampler, load_posts
from model.runtime.classifier import BACKENDS, Backend, Classifier
from model.runtime.onnx_int8 import describe_cpu

REPORTS = REPO / "load" / "reports"
CLIENT_TIMEOUT_S = 10.0
OVERLOAD_CONCURRENCY = 512
Body = Callable[[], dict[str, Any]]


@dataclass
class Row:
    name: str
    concurrency: int
    items: int  # texts per request (or per forward pass, for the ceiling)
    seconds: float = 0.0
    cpu_s: float = 0.0  # CPU time of the server process (or of the model, for the ceiling)
    ok: int = 0
    rejected: int = 0  # 503
    timeouts: int = 0  # client-side timeouts and connection failures
    other: int = 0  # any other status
    latencies_ms: list[float] = field(default_factory=list, repr=False)  # of the 200s
    rejected_ms: list[float] = field(default_factory=list, repr=False)  # time to answer 503

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def posts_per_s(self) -> float:
        return self.requests_per_s * self.items

    @property
    def cpu_ms_per_post(self) -> float | None:
        return 1000 * self.cpu_s / (self.ok * self.items) if self.ok and self.cpu_s else None

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if not k.endswith("_ms")}
        out.update(
            requests_per_s=round(self.requests_per_s, 1),
            posts_per_s=round(self.posts_per_s, 1),
            cpu_ms_per_post=round(self.cpu_ms_per_post or 0, 2),
            latency_ms=percentiles(self.latencies_ms),
            rejected_ms=percentiles(self.rejected_ms),
        )
        return out


def percentiles(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        only = round(values[0], 1) if values else None
        return {"p50": only, "p95": only, "p99": only}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


# --- (a) the in-process ceiling ----------------------------------------------------------------


def ceiling(posts: list[str], backend: Backend, batch_sizes: tuple[int, ...], seconds: float) -> list[Row]:
    """The model alone, with no event loop or GIL contention: one thread per model CPU (the service
    adds a spare worker only to cover its workers' waits for the GIL), each running one-thread passes
    of up to `size` texts (normalise, tokenise, forward, softmax). The passes are cut from posts sorted
    by token count and visited in random order."""
    from service.inference.threads import model_cpus
    from service.settings import Settings

    workers = model_cpus(Settings.from_env().model_cpus)  # the service's own setting
    classifier = Classifier.load(None, backend, threads=1)
    lengths = [len(ids) for ids in classifier.token_ids(posts)]
    ordered = [posts[i] for i in sorted(range(len(posts)), key=lengths.__getitem__)]
    classifier.predict(ordered[-32:], batch_size=32)  # first pass: lazy allocations
    rows = []
    for size in batch_sizes:
        chunks = [ordered[i : i + size] for i in range(0, len(ordered) - size + 1, size)]
        random.Random(size).shuffle(chunks)
        row = Row(f"ceiling {backend} ({workers}x1 thread)", 1, size)
        rows.append(run_passes(classifier, chunks, workers, seconds, row))
    return rows


def run_passes(
    classifier: Classifier, chunks: list[list[str]], workers: int, seconds: float, row: Row
) -> Row:
    """`workers` threads take chunks in turn and predict each as one pass, until `seconds` are over."""
    pending, lock = iter(chunks), threading.Lock()
    end = time.perf_counter() + seconds

    def work() -> None:
        while time.perf_counter() < end:
            with lock:
                chunk = next(pending, None)
            if chunk is None:
                return
            t = time.perf_counter()
            classifier.predict(chunk, batch_size=row.items)
            with lock:
                row.latencies_ms.append((time.perf_counter() - t) * 1000)
                row.ok += 1

    start, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row.seconds, row.cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return row


# --- (b)-(e) HTTP load -------------------------------------------------------------------------


async def drive(
    server: Server, path: str, body: Body, row: Row, duration_s: float, timeout_s: float = CLIENT_TIMEOUT_S
) -> Row:
    """`row.concurrency` workers, each on its own keep-alive connection, send `body()` back to back until
    `duration_s` is over; then waits until the server has no queued work left, so no phase pays for
    the one before. A request unanswered within `timeout_s` counts as a timeout (its connection is
    replaced). Counts and times add to what `row` holds, so one row can be driven in several slices."""
    end = time.perf_counter() + duration_s

    async def worker() -> None:
        connection: Connection | None = None
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                connection = connection or await Connection.open(server.host, server.port)
                status, _ = await asyncio.wait_for(connection.post_json(path, body()), timeout_s)
            except (TimeoutError, ConnectionClosed, OSError):
                row.timeouts += 1
                if connection is not None:
                    await connection.close()
                connection = None
                continue
            elapsed = (time.perf_counter() - t) * 1000
            if status == 200:
                row.ok += 1
                row.latencies_ms.append(elapsed)
            elif status == 503:
                row.rejected += 1
                row.rejected_ms.append(elapsed)
            else:
                row.other += 1
        if connection is not None:
            await connection.close()

    start, cpu = time.perf_counter(), server.cpu_seconds()
    await asyncio.gather(*(worker() for _ in range(row.concurrency)))
    row.seconds += time.perf_counter() - start
    row.cpu_s += server.cpu_seconds() - cpu
    async with httpx.AsyncClient(base_url=server.base) as client:
        await settle(client)
    return row


async def settle(client: httpx.AsyncClient) -> None:
    """Wait for an empty model queue, then for one more text: it is computed after all the rest."""
    while (await client.get("/health/ready", timeout=60)).json().get("queue_depth", 0):
        await asyncio.sleep(0.2)
    await client.post("/v1/classify", json={"text": f"settle {time.time_ns()}"}, timeout=120)


def single(sampler: TextSampler, hot: bool = False) -> Body:
    return lambda: {"text": sampler.hot() if hot else sampler.fresh()}


def batch(sampler: TextSampler, size: int) -> Body:
    return lambda: {"items": [{"text": sampler.fresh()} for _ in range(size)]}


async def take_turns(
    turns: Sequence[tuple[Server, Row]], sampler: TextSampler, duration_s: float, rounds: int
) -> list[Row]:
    """Single unique items to each (server, row) for `duration_s` in all, in `rounds` slices taken in
    turn, the order reversed every other round (A B, B A, ...): a host that slows down or speeds up
    during the run weighs on every server alike, so their ratio compares like with like."""
    for i in range(rounds):
        for server, row in turns if i % 2 == 0 else turns[::-1]:
            await drive(server, "/v1/classify", single(sampler), row, duration_s / rounds)
    return [row for _, row in turns]


async def http_phases(
    servers: dict[str, Server], sampler: TextSampler, duration_s: float, rounds: int
) -> list[Row]:
    """(b)-(e) against the servers that run (by row name: "service", "naive", "naive (int8)")."""
    for server in servers.values():
        await drive(server, "/v1/classify", single(sampler), Row("warm-up", 4, 1), 1.0)
    rows: list[Row] = []
    for c in (1, 16, 64):
        names = ("service", PEER, "naive") if c == 64 else ("service", PEER)
        turns = [(servers[name], Row(name, c, 1)) for name in names if name in servers]
        rows += await take_turns(turns, sampler, duration_s, rounds)
    if "service" in servers:
        rows += await service_phases(servers["service"], sampler, duration_s)
    return sorted(rows, key=lambda row: row.name.startswith("naive"))  # the service's rows first


async def service_phases(server: Server, sampler: TextSampler, duration_s: float) -> list[Row]:
    """The service's own phases: batches, the cached path and overload."""
    rows = []
    for c in (1, 4):
        rows.append(
            await drive(server, "/v1/classify/batch", batch(sampler, 32), Row("service", c, 32), duration_s)
        )
    # (d) the cached path: the hot texts are computed once (one batch request), then repeated.
    async with httpx.AsyncClient(base_url=server.base, timeout=120) as client:
        warm = await client.post("/v1/classify/batch", json={"items": [{"text": t} for t in sampler.hot_set]})
        warm.raise_for_status()
    rows.append(
        await drive(
            server, "/v1/classify", single(sampler, hot=True), Row("service cached", 32, 1), duration_s
        )
    )
    # (e) overload: far more concurrent texts than the model can finish within the client's timeout.
    rows.append(
        await drive(
            server,
            "/v1/classify",
            single(sampler),
            Row("service overload", OVERLOAD_CONCURRENCY, 1),
            duration_s,
        )
    )
    return rows


# --- report -----------------------------------------------------------------------------------


def find(rows: list[Row], name: str, concurrency: int, items: int) -> Row | None:
    return next(
        (r for r in rows if r.name.startswith(name) and r.concurrency == concurrency and r.items == items),
        None,
    )


PEER = "naive (int8)"  # the same int8 model behind a naive server: the ratio's denominator


def targets(rows: list[Row]) -> list[tuple[str, str, bool]]:
    """(target, measured, passed) for each target whose rows were measured."""
    out: list[tuple[str, str, bool]] = []
    svc64, svc16 = find(rows, "service", 64, 1), find(rows, "service", 16, 1)
    peer64 = find(rows, PEER, 64, 1)
    cached, overload = (
        find(rows, "service cached", 32, 1),
        find(rows, "service overload", OVERLOAD_CONCURRENCY, 1),
    )
    if svc64 and peer64 and peer64.posts_per_s:
        ratio = svc64.posts_per_s / peer64.posts_per_s
        out.append((f"service c=64 >= 1.25x {PEER} c=64", f"{ratio:.2f}x", ratio >= 1.25))
    if svc16:
        p99 = percentiles(svc16.latencies_ms)["p99"]
        out.append(("service c=16 p99 <= 100 ms", f"{p99} ms", p99 is not None and p99 <= 100))
    if cached:
        out.append(
            ("cached >= 4000 req/s", f"{cached.requests_per_s:.0f} req/s", cached.requests_per_s >= 4000)
        )
    if overload:
        out.append(("overload c=512: zero timeouts", f"{overload.timeouts} timeouts", overload.timeouts == 0))
        refused = percentiles(overload.rejected_ms)["p99"]
        if refused is not None:
            out.append(("overload c=512: 503 p99 <= 100 ms", f"{refused} ms", refused <= 100))
    return out


def print_table(rows: list[Row], checks: list[tuple[str, str, bool]], backend: str) -> None:
    ceiling = max(
        (r for r in rows if r.name.startswith(f"ceiling {backend}")),
        key=lambda r: r.posts_per_s,
        default=None,
    )
    peer = {r.concurrency: r for r in rows if r.name == PEER}
    head = (
        f"{'phase':<28}{'conc':>5}{'items':>6}{'req/s':>9}{'posts/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'200':>7}{'503':>6}{'t/o':>5}{'503 p50':>9}{'cpu/post':>9}{'/ceil':>7}{'/peer':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        pct, rej = percentiles(r.latencies_ms), percentiles(r.rejected_ms)
        vs_ceil = (
            f"{r.posts_per_s / ceiling.posts_per_s:.0%}" if ceiling and r.name.startswith("service") else ""
        )
        base = peer.get(r.concurrency) if r.items == 1 and r.name in ("service", "naive") else None
        vs_peer = f"{r.posts_per_s / base.posts_per_s:.2f}x" if base and base.posts_per_s else ""
        print(
            f"{r.name:<28}{r.concurrency:>5}{r.items:>6}{r.requests_per_s:>9.1f}{r.posts_per_s:>9.1f}"
            f"{fmt(pct['p50'])}{fmt(pct['p95'])}{fmt(pct['p99'])}{r.ok:>7}{r.rejected:>6}{r.timeouts:>5}"
            f"{fmt(rej['p50'], 9)}{fmt(r.cpu_ms_per_post, 9)}{vs_ceil:>7}{vs_peer:>7}"
        )
    print(
        "\nlatencies in ms (200s only; '503 p50' = time to answer 503); cpu/post = CPU ms the server"
        " (or the model, for the ceiling) spent per post: robust to other load on the machine\n"
    )
    for name, measured, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name:<48} {measured}")


def fmt(value: float | None, width: int = 8) -> str:
    return f"{value:>{width}.1f}" if value is not None else f"{'-':>{width}}"


def redis_reachable(url: str) -> bool:
    parsed = httpx.URL(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 6379), timeout=0.5):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per HTTP phase")
    parser.add_argument("--ceiling-seconds", type=float, default=6.0, help="seconds per ceiling batch size")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("DIALOGIC_MODEL_BACKEND", "int8"),
        help="the service's model backend (the ceiling measures both; the peer is always int8)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("DIALOGIC_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the service's cache (used when it answers; else the in-process LRU)",
    )
    parser.add_argument("--no-redis", action="store_true", help="use the in-process LRU")
    parser.add_argument(
        "--rounds", type=int, default=2, help="slices per phase in which the servers take turns"
    )
    parser.add_argument("--posts", type=int, default=2000, help="distinct posts to draw texts from")
    parser.add_argument("--skip", nargs="*", default=[], choices=("ceiling", "service", "naive"))
    args = parser.parse_args(argv)

    posts = load_posts(args.posts)
    redis_url = None if args.no_redis or not redis_reachable(args.redis_url) else args.redis_url
    REPORTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    env = {"DIALOGIC_MODEL_BACKEND": args.backend, "DIALOGIC_REDIS_URL": redis_url or ""}
    rows: list[Row] = []
    if "ceiling" not in args.skip:
        # The texts the service gets: real posts with the trailing token that keeps them uncached.
        sampler = TextSampler(posts)
        texts = [sampler.fresh() for _ in range(1024)]
        rows += ceiling(texts, "fp32", (1, 8, 32), args.ceiling_seconds)
        rows += ceiling(texts, "int8", (1,), args.ceiling_seconds)  # int8 runs one text per pass
    # The peer is the same int8 model behind a naive server: what the service must beat by its serving
    # path alone. The naive fp32 server was the first baseline, kept at c=64 for history.
    launch = {
        "service": (service_argv(), args.backend),
        "naive": (naive_argv(), "fp32"),
        "naive (int8)": (naive_argv(), "int8"),
    }
    with ExitStack() as stack:
        servers = {
            name: stack.enter_context(
                serve(
                    argv,
                    {**env, "DIALOGIC_MODEL_BACKEND": backend},
                    log_path=REPORTS / f"bench-{stamp}-{name.replace(' (', '-').rstrip(')')}.log",
                )
            )
            for name, (argv, backend) in launch.items()
            if name.split()[0] not in args.skip
        }
        if servers:
            rows += asyncio.run(http_phases(servers, TextSampler(posts), args.duration, args.rounds))

    checks, cpu = targets(rows), describe_cpu()
    print(
        f"\nDialogic bench {stamp} UTC, {platform.node()}, {os.cpu_count()} CPUs ({cpu}), "
        f"backend {args.backend}, cache {'redis' if redis_url else 'memory'}, "
        f"{args.duration:.0f} s per phase in {args.rounds} turns\n"
    )
    print_table(rows, checks, args.backend)
    out = REPORTS / f"bench-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "date": stamp,
                "machine": {
                    "node": platform.node(),
                    "cpus": os.cpu_count(),
                    "processor": cpu,
                },
                "backend": args.backend,
                "cache": "redis" if redis_url else "memory",
                "duration_s": args.duration,
                "rounds": args.rounds,
                "rows": [r.summary() for r in rows],
                "targets": [{"target": n, "measured": m, "pass": p} for n, m, p in checks],
            },
            indent=2,
        )
    )
    print(f"\nwrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
