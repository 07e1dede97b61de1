"""The result cache's Redis round trips, hand-written RESP client against redis-py, in one interleaved run.

    python -m load.bench_redis [--rounds 6] [--requests 2000] [--concurrency 1 16] [--redis-url URL]

A request-equivalent is what the cache asks of Redis for one post: a miss (MGET, then the write-back
SET ... EX), or a hit (MGET alone). Each round runs every client and kind in turn, the order reversed
every other round, so a host that drifts weighs on both; the figure per client is the median over
rounds of this process's CPU time (the event loop: Redis runs elsewhere) per request-equivalent. Both
clients run under the same per-operation deadline (asyncio.timeout for redis-py, its own for RESP).
Keys go under a throwaway prefix that is removed afterwards. Prints a table and writes JSON to
load/reports/. Bounded: about 20 s by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from redis.asyncio import Redis

from service.redis.resp import Endpoint, RespClient

REPORTS = Path(__file__).parent / "reports"
VALUE = b"\x00\x00\x80>\x00\x00@?"  # 8 bytes: two float32 scores, as the cache stores them
TIMEOUT_S = 1.0  # a deadline on every operation, as the cache sets; generous, so a busy host fails none
Op = Callable[[str], Awaitable[Any]]


def resp_ops(client: RespClient) -> dict[str, Op]:
    async def miss(key: str) -> None:
        await client.execute([("MGET", key)], TIMEOUT_S)
        await client.execute([("SET", key, VALUE, "EX", 60)], TIMEOUT_S)

    async def hit(key: str) -> None:
        await client.execute([("MGET", key)], TIMEOUT_S)

    return {"miss": miss, "hit": hit}


def redis_py_ops(client: Redis) -> dict[str, Op]:
    async def miss(key: str) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            await client.mget([key])
        async with asyncio.timeout(TIMEOUT_S):
            pipe = client.pipeline(transaction=False)  # as the cache writes back: one pipeline a request
            pipe.set(key, VALUE, ex=60)
            await pipe.execute()

    async def hit(key: str) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            await client.mget([key])

    return {"miss": miss, "hit": hit}


async def run(op: Op, keys: list[str], concurrency: int) -> float:
    """CPU seconds of this process for one pass over `keys`, `concurrency` at a time."""
    chunks = [keys[i::concurrency] for i in range(concurrency)]

    async def lane(lane_keys: list[str]) -> None:
        for key in lane_keys:
            await op(key)

    started = time.process_time()
    await asyncio.gather(*(lane(chunk) for chunk in chunks))
    return time.process_time() - started


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"bench-redis:{uuid.uuid4().hex[:8]}"
    resp = RespClient(Endpoint.from_url(args.redis_url), connect_timeout_s=1.0)
    # One connection, as the cache's own client holds; hiredis parses when it is installed.
    single = Redis.from_url(args.redis_url, single_connection_client=True)
    pooled = Redis.from_url(args.redis_url)  # one connection per concurrent command, as redis-py pools
    clients = {
        "resp": resp_ops(resp),
        "redis-py": redis_py_ops(single),
        "redis-py pool": redis_py_ops(pooled),
    }
    samples: dict[str, list[float]] = {}
    try:
        for name, ops in clients.items():  # connect and warm up every path once
            await run(ops["miss"], [f"{prefix}:warm:{name}:{i}" for i in range(200)], 1)
        for round_ in range(args.rounds):
            order = list(clients) if round_ % 2 == 0 else list(reversed(clients))
            for concurrency in args.concurrency:
                for name in order:
                    if name == "redis-py" and concurrency > 1:
                        continue  # one connection serialises concurrent commands: the pool is the client
                    if name == "redis-py pool" and concurrency == 1:
                        continue  # the same as one connection
                    ops = clients[name]
                    keys = [f"{prefix}:{name}:{round_}:{concurrency}:{i}" for i in range(args.requests)]
                    for kind in ("miss", "hit"):  # the hits read the keys the misses wrote
                        cpu = await run(ops[kind], keys, concurrency)
                        label = (
                            f"{kind} c={concurrency} {'redis-py' if name.startswith('redis-py') else name}"
                        )
                        samples.setdefault(label, []).append(cpu / args.requests * 1e6)
    finally:
        cleaner = Redis.from_url(args.redis_url)
        async for batch in _batches(cleaner, prefix):
            await cleaner.unlink(*batch)
        await cleaner.aclose()
        await resp.close()
        await single.aclose()
        await pooled.aclose()
    rows = []
    for label in sorted({k.rsplit(" ", 1)[0] for k in samples}):
        ours, theirs = (
            statistics.median(samples[f"{label} resp"]),
            statistics.median(samples[f"{label} redis-py"]),
        )
        rows.append(
            {
                "case": label,
                "resp_cpu_us": round(ours, 1),
                "redis_py_cpu_us": round(theirs, 1),
                "ratio": round(theirs / ours, 2),
                "saved_us": round(theirs - ours, 1),
                "saved_share_of_request": round((theirs - ours) / (args.request_cpu_ms * 1000), 3)
                if label.startswith("miss")
                else round((theirs - ours) / (args.hit_request_cpu_ms * 1000), 3),
                "rounds_resp": [round(x, 1) for x in samples[f"{label} resp"]],
                "rounds_redis_py": [round(x, 1) for x in samples[f"{label} redis-py"]],
            }
        )
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "redis_py": redis.__version__,
        "hiredis": redis.utils.HIREDIS_AVAILABLE,
        "rounds": args.rounds,
        "requests": args.requests,
        "request_cpu_ms": {"miss": args.request_cpu_ms, "hit": args.hit_request_cpu_ms},
        "rows": rows,
    }


async def _batches(client: Redis, prefix: str) -> Any:
    batch: list[bytes] = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--requests", type=int, default=2000, help="request-equivalents per client, kind, round"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    # The service's CPU for one request, to size the difference (README, Performance: int8, Redis cache).
    parser.add_argument("--request-cpu-ms", type=float, default=5.0, help="an uncached single-post request")
    parser.add_argument("--hit-request-cpu-ms", type=float, default=0.4, help="a cached request")
    args = parser.parse_args()
    report = asyncio.run(bench(args))
    print(
        f"redis-py {report['redis_py']}, hiredis {report['hiredis']}, {args.rounds} rounds x {args.requests}"
    )
    print(
        f"{'case':<12} {'resp us':>8} {'redis-py us':>12} {'ratio':>6} {'saved us':>9} {'of a request':>13}"
    )
    for row in report["rows"]:
        print(
            f"{row['case']:<12} {row['resp_cpu_us']:>8} {row['redis_py_cpu_us']:>12} {row['ratio']:>6} "
            f"{row['saved_us']:>9} {row['saved_share_of_request']:>12.1%}"
        )
    REPORTS.mkdir(exist_ok=True)
    out = REPORTS / f"bench-redis-{report['at'][:19].replace(':', '')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
