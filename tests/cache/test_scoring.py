"""Scorer: one lookup per batch, duplicates computed once, single flight across requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis

from model.runtime.normalize import normalize
from service.cache import MemoryCache, RedisCache, cache_key
from service.inference.batcher import DeadlineExceeded
from service.scoring import Scorer
from tests.cache.conftest import FakePredict, fake_prediction


async def test_batch_with_mixed_hits_and_duplicates(
    redis_cache: RedisCache, observer: Redis, predict: FakePredict, prefix: str
) -> None:
    scorer = Scorer(redis_cache, predict, "v1", prefix)
    await scorer.score(["warm one", "warm two"])
    predict.calls.clear()

    texts = ["warm one", "new a", "new a", " new\u200b  a ", "warm two", "new b", "warm one"]
    out = await scorer.score(texts)

    assert predict.calls == [["new a", "new b"]]  # only the distinct misses
    assert [s.cached for s in out] == [True, False, False, False, True, False, True]
    for text, scored in zip(texts, out, strict=True):
        expected = fake_prediction(normalize(text))
        assert (scored.label, scored.scores) == (expected.label, expected.scores)
    ttl = await observer.ttl(cache_key(prefix, "v1", "new b"))
    assert 0 < ttl <= 60
    assert all(s.cached for s in await scorer.score(texts))
    assert len(predict.calls) == 1


async def test_concurrent_identical_misses_run_one_forward_pass(prefix: str) -> None:
    predict = FakePredict(delay=0.05)
    scorer = Scorer(MemoryCache(100, 60), predict, "v1", prefix)
    out = await asyncio.gather(*(scorer.score(["viral post"]) for _ in range(50)))
    assert predict.calls == [["viral post"]]
    assert all(o == out[0] for o in out) and not out[0][0].cached
    assert scorer._inflight == {}


async def test_coalescing_with_redis_and_overlapping_batches(redis_cache: RedisCache, prefix: str) -> None:
    predict = FakePredict(delay=0.05)
    scorer = Scorer(redis_cache, predict, "v1", prefix)
    batches = [["x", "y"], ["y", "z"], ["x", "z"], ["x"]] * 10
    out = await asyncio.gather(*(scorer.score(b) for b in batches))
    assert sorted(t for call in predict.calls for t in call) == ["x", "y", "z"]
    assert [[s.scores for s in o] for o in out] == [[fake_prediction(t).scores for t in b] for b in batches]
    assert all(s.cached for s in await scorer.score(["x", "y", "z"]))


async def test_model_errors_reach_every_waiter_and_are_not_cached(prefix: str) -> None:
    predict = FakePredict(delay=0.05, error=RuntimeError("model down"))
    scorer = Scorer(MemoryCache(100, 60), predict, "v1", prefix)
    results = await asyncio.gather(*(scorer.score(["t"]) for _ in range(10)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and len(predict.calls) == 1
    assert scorer._inflight == {}
    predict.error = None
    assert not (await scorer.score(["t"]))[0].cached and len(predict.calls) == 2


async def test_a_caller_giving_up_does_not_cancel_the_others(prefix: str) -> None:
    predict = FakePredict(delay=0.1)
    cache = MemoryCache(100, 60)
    scorer = Scorer(cache, predict, "v1", prefix)
    owner = asyncio.create_task(scorer.score(["t"]))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(scorer.score(["t"]))
    await asyncio.sleep(0.01)
    owner.cancel()
    assert (await waiter)[0].scores == fake_prediction("t").scores
    with pytest.raises(asyncio.CancelledError):
        await owner
    await asyncio.sleep(0)  # let the write-back finish
    assert len(predict.calls) == 1 and (await scorer.score(["t"]))[0].cached


@pytest.mark.parametrize(
    ("first", "second", "calls"),
    [
        (None, None, 1),
        (None, 5.0, 1),  # no client deadline: the server's own limit, which outlasts any client's
        (6.0, 5.0, 1),
        (5.0, None, 2),  # the computation could expire before the second caller gives up: computed again
        (5.0, 6.0, 2),
    ],
)
async def test_a_computation_is_shared_only_with_callers_it_outlasts(
    prefix: str, first: float | None, second: float | None, calls: int
) -> None:
    """Client deadlines (seconds from now; None: none) of two callers asking for the same text at once."""
    predict = FakePredict(delay=0.05)
    scorer = Scorer(MemoryCache(100, 60), predict, "v1", prefix)
    now = time.monotonic()
    deadlines = [None if d is None else now + d for d in (first, second)]
    out = await asyncio.gather(*(scorer.score(["t"], d) for d in deadlines))
    assert out[0] == out[1] and len(predict.calls) == calls
    assert predict.deadlines == deadlines[:calls]  # each computation runs under its owner's deadline
    assert scorer._inflight == {}


async def test_a_short_client_deadline_fails_only_its_own_caller(prefix: str) -> None:
    predict = FakePredict(delay=0.1)
    scorer = Scorer(MemoryCache(100, 60), predict, "v1", prefix)
    hasty = asyncio.create_task(scorer.score(["t"], time.monotonic() + 0.02))
    await asyncio.sleep(0.01)
    patient = asyncio.create_task(scorer.score(["t"]))
    with pytest.raises(DeadlineExceeded):
        await hasty
    assert (await patient)[0].scores == fake_prediction("t").scores
    assert predict.calls == [["t"], ["t"]] and scorer._inflight == {}
    assert (await scorer.score(["t"]))[0].cached  # the patient caller's result was written back


async def test_new_model_version_does_not_read_old_entries(
    redis_cache: RedisCache, predict: FakePredict, prefix: str
) -> None:
    await Scorer(redis_cache, predict, "v1", prefix).score(["same text"])
    out = await Scorer(redis_cache, predict, "v2", prefix).score(["same text"])
    assert not out[0].cached and len(predict.calls) == 2


async def test_empty_batch(prefix: str, predict: FakePredict) -> None:
    assert await Scorer(MemoryCache(10, 60), predict, "v1", prefix).score([]) == []
    assert predict.calls == []


@pytest.mark.slow
async def test_cached_scores_equal_the_real_models(redis_cache: RedisCache, prefix: str) -> None:
    from model.runtime.classifier import Classifier, Prediction

    classifier = Classifier.load()
    texts = [
        "@alice are you coming tonight?",
        "New blog post: 10 tips for spring https://x.co/a",
        "thanks so much!! see you there",
        "Our store opens at 9am tomorrow. #sale",
    ]
    expected = classifier.predict(texts)

    async def predict(texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        return await asyncio.to_thread(classifier.predict, texts)

    scorer = Scorer(redis_cache, predict, classifier.version, prefix)
    first, second = await scorer.score(texts), await scorer.score(texts)
    assert [s.cached for s in first] == [False] * 4 and [s.cached for s in second] == [True] * 4
    for e, a, b in zip(expected, first, second, strict=True):
        assert e.scores == a.scores == b.scores and e.label == a.label == b.label
