"""One-run cache benchmark: Scorer throughput uncached (real model) against cached (memory, Redis).

    python -m load.bench_cache [--texts 256] [--batch 32] [--seconds 2] [--redis-url URL]

Uncached scores up to `--texts` unique posts once through the model (stopping after
`--model-seconds`); each cached mode then replays the posts the model got through, for `--seconds`
at batch sizes 1 and `--batch`. Redis entries go under a throwaway prefix that is flushed
afterwards. Prints a table and writes JSON to load/reports/. Bounded: under a minute by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from load.texts import TextSampler, load_posts
from model.runtime.classifier import Classifier, Prediction
from service.cache import MemoryCache, RedisCache, ResultCache
from service.scoring import Scorer

REPORTS = Path(__file__).parent / "reports"


async def measure(
    scorer: Scorer, texts: Sequence[str], batch: int, seconds: float, cycle: bool
) -> dict[str, Any]:
    """Sequential score() calls over `texts` (once, or cycling) for at most `seconds`."""
    latencies, done, cached = [], 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(0, len(texts), batch):
            t0 = time.perf_counter()
            out = await scorer.score(texts[i : i + batch])
            latencies.append(time.perf_counter() - t0)
            done, cached = done + len(out), cached + sum(s.cached for s in out)
            if time.perf_counter() - start >= seconds:
                break
        if not cycle:
            break
    elapsed = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)
    return {
        "batch": batch,
        "calls": len(ms),
        "texts": done,
        "cached_share": round(cached / done, 3),
        "seconds": round(elapsed, 3),
        "texts_per_s": round(done / elapsed, 1),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    classifier = Classifier.load()
    sampler = TextSampler(load_posts(args.texts))  # fresh(): unique per run, so never already cached
    texts = [sampler.fresh() for _ in range(args.texts)]
    computed: dict[str, Prediction] = {}

    async def model(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        out = await asyncio.to_thread(classifier.predict, texts)
        computed.update(zip(texts, out, strict=True))
        return out

    async def replay(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        return [computed[t] for t in texts]  # warms a cache without the model

    rows: list[dict[str, Any]] = []
    memory = MemoryCache(max_entries=len(texts) * 2, ttl_s=3600)
    uncached = Scorer(memory, model, classifier.version, "bench")
    rows.append(
        {
            "mode": "uncached (model)",
            **await measure(uncached, texts, args.batch, args.model_seconds, cycle=False),
        }
    )
    texts = list(computed)  # what the model got through within its time budget
    prefix = f"dialogic-bench-{uuid.uuid4().hex[:8]}"
    redis = RedisCache.from_url(args.redis_url, prefix=prefix, ttl_s=600, timeout_ms=args.redis_timeout_ms)
    caches: list[tuple[str, ResultCache]] = [("cached (memory)", memory)]
    if await redis.redis.ping(1.0):
        caches.append(("cached (redis)", redis))
    else:
        print(f"redis at {redis.where} is unreachable: skipping the redis rows")
    try:
        for mode, cache in caches:
            scorer = Scorer(cache, replay, classifier.version, "bench" if cache is memory else prefix)
            await scorer.score(texts)  # warm
            for batch in (1, args.batch):
                rows.append({"mode": mode, **await measure(scorer, texts, batch, args.seconds, cycle=True)})
    finally:
        await redis.flush()
        await redis.close()
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": classifier.name,
        "model_version": classifier.version,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "texts": len(texts),
        "rows": rows,
    }


def table(rows: list[dict[str, Any]]) -> str:
    cols = ["mode", "batch", "texts", "cached_share", "texts_per_s", "p50_ms", "p99_ms"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]

    def line(values: Iterable[Any]) -> str:
        return "  ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))

    return "\n".join([line(cols), line("-" * w for w in widths), *(line(r[c] for c in cols) for r in rows)])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--texts", type=int, default=256, help="unique posts scored by the model")
    parser.add_argument("--model-seconds", type=float, default=20.0, help="time budget of the uncached run")
    parser.add_argument("--batch", type=int, default=32, help="texts per score() call")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each cached measurement")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--redis-timeout-ms", type=float, default=25.0)
    args = parser.parse_args(argv)
    report = asyncio.run(bench(args))
    print(table(report["rows"]))
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / f"bench_cache-{report['at'].replace(':', '')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {path}")


if __name__ == "__main__":
    main()
