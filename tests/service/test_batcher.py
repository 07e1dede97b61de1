"""The micro-batcher with a stand-in model: batching, ordering, back-pressure, deadlines, drain."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from model.runtime.classifier import Prediction
from service.inference.batcher import Batcher, DeadlineExceeded, Overloaded


class FakeModel:
    """Records each micro-batch; the label encodes the text so ordering errors show up."""

    max_pass = 64

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.delay_s, self.fail = delay_s, fail
        self.gate = threading.Event()
        self.gate.set()
        self.running = self.most_at_once = 0
        self.lock = threading.Lock()

    def predict_passes(self, texts: Sequence[str]) -> Iterator[tuple[list[int], list[Prediction]]]:
        yield list(range(len(texts))), self.predict(texts)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.gate.wait()
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(texts))
        time.sleep(self.delay_s)
        with self.lock:
            self.running -= 1
        if self.fail:
            raise RuntimeError("model broke")
        return [Prediction(label=t, scores={"broadcast": 0.5, "conversation": 0.5}) for t in texts]


def make(model: FakeModel, **kw: Any) -> Batcher:
    options: dict[str, Any] = {"max_size": 4, "max_wait_ms": 20, "capacity": 100, "timeout_s": 5.0} | kw
    batcher = Batcher(model, **options)  # type: ignore[arg-type]
    batcher.start()
    return batcher


async def test_concurrent_requests_share_micro_batches_and_keep_order() -> None:
    model = FakeModel()
    batcher = make(model)
    groups = [[f"r{r}-t{t}" for t in range(3)] for r in range(4)]
    results = await asyncio.gather(*[batcher.predict(g) for g in groups])
    await batcher.stop()
    assert [[p.label for p in res] for res in results] == groups
    assert all(len(b) <= 4 for b in model.batches)
    assert len(model.batches) < 12  # grouped across requests, not one pass per text
    assert model.threads == {"dialogic-batcher-0"}  # never the event loop's thread


async def test_workers_run_passes_side_by_side_and_drain_on_stop() -> None:
    model = FakeModel(delay_s=0.05)
    batcher = make(model, max_size=1, workers=2)
    texts = [f"t{i}" for i in range(8)]
    pending = asyncio.ensure_future(asyncio.gather(*[batcher.predict([t]) for t in texts]))
    await asyncio.sleep(0.01)
    await batcher.stop()  # admitted texts are still computed
    assert [res[0].label for res in await pending] == texts
    assert model.threads == {"dialogic-batcher-0", "dialogic-batcher-1"}
    assert model.most_at_once == 2


class TwoPassModel(FakeModel):
    """Runs a micro-batch as two forward passes, the second held at the gate."""

    def predict_passes(self, texts: Sequence[str]) -> Iterator[tuple[list[int], list[Prediction]]]:
        yield [0], [Prediction(label=texts[0], scores={"broadcast": 0.5, "conversation": 0.5})]
        rest = list(range(1, len(texts)))
        yield rest, self.predict([texts[i] for i in rest])


async def test_a_pass_is_answered_before_the_rest_of_its_micro_batch() -> None:
    model = TwoPassModel()
    model.gate.clear()  # the second pass waits
    batcher = make(model, max_wait_ms=500)  # both texts in one micro-batch
    first, second = (asyncio.ensure_future(batcher.predict([t])) for t in ("short", "long"))
    assert (await asyncio.wait_for(first, 2))[0].label == "short"  # while "long" is still inside
    assert not second.done()
    model.gate.set()
    assert (await second)[0].label == "long"
    await batcher.stop()


async def test_full_queue_raises_overloaded_at_once() -> None:
    model = FakeModel()
    model.gate.clear()  # the worker blocks in the model, so the queue fills up
    batcher = make(model, max_size=1, capacity=3)
    first = asyncio.ensure_future(batcher.predict(["a"]))
    await asyncio.sleep(0.05)  # "a" is now inside the model
    queued = asyncio.ensure_future(batcher.predict(["b", "c", "d"]))
    await asyncio.sleep(0)
    assert batcher.queue_depth == 3
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await batcher.predict(["e"])
    assert time.monotonic() - started < 0.1
    model.gate.set()
    assert [p.label for p in await queued] == ["b", "c", "d"]
    assert (await first)[0].label == "a"
    await batcher.stop()


async def test_expired_texts_are_dropped_before_compute() -> None:
    model = FakeModel()
    model.gate.clear()
    batcher = make(model, max_size=1)
    blocker = asyncio.ensure_future(batcher.predict(["blocker"]))
    await asyncio.sleep(0.05)
    with pytest.raises(DeadlineExceeded):
        await batcher.predict(["late"], deadline=time.monotonic() + 0.05)
    model.gate.set()
    await blocker
    await batcher.stop()
    assert ["late"] not in model.batches


async def test_texts_that_would_miss_their_deadline_are_refused_at_once() -> None:
    """At the workers' recent pace (50 ms a text here), the texts queued ahead decide whether a new one
    can come back before its deadline; one that cannot is refused now, not when its deadline passes."""
    model = FakeModel(delay_s=0.05)
    batcher = make(model, max_size=1)  # one worker
    await batcher.predict(["pace"])
    model.gate.clear()
    ahead = [asyncio.ensure_future(batcher.predict([t])) for t in "abcd"]
    await asyncio.sleep(0.05)  # "a" is inside the model; b, c and d wait: 150 ms of work ahead
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        await batcher.predict(["hasty"], deadline=started + 0.1)
    assert time.monotonic() - started < 0.05
    patient = asyncio.ensure_future(batcher.predict(["patient"], deadline=started + 5))
    model.gate.set()
    assert [p.label for p in await patient] == ["patient"]
    await asyncio.gather(*ahead)
    await batcher.stop()
    assert ["hasty"] not in model.batches


async def test_stop_drains_the_queue_then_refuses() -> None:
    model = FakeModel(delay_s=0.02)
    batcher = make(model, max_size=2)
    pending = asyncio.ensure_future(batcher.predict([f"t{i}" for i in range(6)]))
    await asyncio.sleep(0)
    await batcher.stop()
    assert [p.label for p in await pending] == [f"t{i}" for i in range(6)]
    with pytest.raises(Overloaded):
        await batcher.predict(["after stop"])


async def test_model_errors_reach_the_caller() -> None:
    batcher = make(FakeModel(fail=True))
    with pytest.raises(RuntimeError, match="model broke"):
        await batcher.predict(["x", "y"])
    await batcher.stop()
