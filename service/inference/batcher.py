"""Dynamic micro-batching in front of the model: the only code that calls it.

The event loop never runs the model: `workers` threads do, each taking a micro-batch from one shared
queue (up to `max_size` texts, waiting at most `max_wait_ms` after the first) and running it as
one-thread forward passes of similar-length texts (`Classifier.predict` buckets by token count):
single-threaded passes side by side beat one multi-thread pass, since small matrices do not split well
across threads. The runtimes release the GIL during a pass, so the loop keeps answering while the CPUs
compute; but a worker needs the GIL again to tokenise and hand back its results, and while it waits for
the loop to let go, its CPU would idle. The API therefore runs one worker more than it has CPUs. The
queue is bounded in texts: when it is full, callers get `Overloaded` at once (a fast 503) instead of
waiting out their deadline. Texts that the queue ahead of them would keep past their deadline, at the
workers' recent pace, are refused at once too (`DeadlineExceeded`): queued, they would only expire
there, on CPU that texts still in time could use. The measurements behind each choice are in
docs/performance.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from model.runtime.classifier import Classifier, Prediction
from service import recorder

log = logging.getLogger("dialogic.batcher")


class Overloaded(Exception):
    """The queue cannot take the texts now (full, or the batcher is stopping)."""


class DeadlineExceeded(Exception):
    """The deadline passed before the model produced the result."""


@dataclass(frozen=True)
class _Job:
    text: str
    future: asyncio.Future[Prediction]
    loop: asyncio.AbstractEventLoop
    deadline: float  # time.monotonic()


_STOP = None  # queue sentinel: everything queued before it is still computed (graceful drain)
PACE_WEIGHT = 0.1  # each micro-batch's share of the seconds-per-text estimate


class Batcher:
    def __init__(
        self,
        classifier: Classifier,
        max_size: int,
        max_wait_ms: float,
        capacity: int,
        timeout_s: float,
        workers: int = 1,
    ) -> None:
        self.classifier, self.max_wait_s = classifier, max_wait_ms / 1000
        self.max_size = min(max_size, classifier.max_pass)  # int8: one text at a time, no waiting
        self.capacity, self.timeout_s, self.workers = capacity, timeout_s, workers
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._depth = 0
        self._lock = threading.Lock()
        self._accepting = False
        self._threads: list[threading.Thread] = []
        self._seconds_per_text = 0.0  # a worker's wall time per text, recent passes weighted most

    def expected_wait_s(self, texts: int) -> float:
        """How long `texts` more texts would take to come back: the queue ahead of them and themselves,
        shared among the workers at their recent pace (0 before the first pass)."""
        return (self._depth + texts) * self._seconds_per_text / self.workers

    @property
    def queue_depth(self) -> int:
        """Texts waiting for a micro-batch (not yet handed to the model)."""
        return self._depth

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run, name=f"dialogic-batcher-{i}", daemon=True)
            for i in range(self.workers)
        ]
        self._accepting = True
        for thread in self._threads:
            thread.start()

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Refuse new texts, let the workers finish what is queued, then end them."""
        self._accepting = False
        for _ in self._threads:  # one stop mark per worker, queued after every text already admitted
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
        self._threads = []

    async def predict(self, texts: Sequence[str], deadline: float | None = None) -> list[Prediction]:
        """Predictions in input order. `deadline` is a time.monotonic() instant (default: now + timeout)."""
        if not texts:
            return []
        deadline = time.monotonic() + self.timeout_s if deadline is None else deadline
        with self._lock:  # admit all texts of a request or none, so a request never half-waits
            if not self._accepting or self._depth + len(texts) > self.capacity:
                raise Overloaded
            if time.monotonic() + self.expected_wait_s(len(texts)) > deadline:
                raise DeadlineExceeded  # at once: queued, the texts would only expire
            self._depth += len(texts)
            recorder.queue(self._depth)
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Prediction]] = [loop.create_future() for _ in texts]
        for text, future in zip(texts, futures, strict=True):
            self._queue.put(_Job(text, future, loop, deadline))
        # One timer and plain awaits: wait_for around gather cost a task and a future per request.
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return [await future for future in futures]
        except TimeoutError:
            raise DeadlineExceeded from None
        finally:  # on a failure or a timeout: drop what is still queued, retrieve what failed
            for future in futures:
                if not future.cancel() and not future.cancelled():
                    future.exception()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            until = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_size:
                try:
                    job = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                    break
                batch.append(job)
            with self._lock:
                self._depth -= len(batch)
                recorder.queue(self._depth)
            self._compute(batch)

    def _compute(self, batch: list[_Job]) -> None:
        now = time.monotonic()
        live: list[_Job] = []
        for job in batch:  # expired or abandoned texts are dropped before they cost compute
            if job.deadline > now and not job.future.done():
                live.append(job)
            else:
                recorder.dropped()
                _deliver(job, DeadlineExceeded())
        if not live:
            return
        recorder.batch(len(live))
        started = time.monotonic()
        pending = set(range(len(live)))
        try:  # each forward pass's texts are answered as soon as it ends, not after the whole batch
            for bucket, predictions in self.classifier.predict_passes([job.text for job in live]):
                for i, prediction in zip(bucket, predictions, strict=True):
                    _deliver(live[i], prediction)
                pending.difference_update(bucket)
        except Exception as exc:
            log.exception("model failure on a micro-batch", extra={"size": len(live)})
            for i in pending:
                _deliver(live[i], exc)
            return
        pace = (time.monotonic() - started) / len(live)
        # Racing workers may each overwrite the other's update: a lost sample, never a wrong estimate.
        self._seconds_per_text += (
            PACE_WEIGHT * (pace - self._seconds_per_text) if self._seconds_per_text else pace
        )


def _deliver(job: _Job, outcome: Prediction | BaseException) -> None:
    """Settle the job's future on its own loop (futures are not thread-safe)."""

    def settle() -> None:
        if job.future.done():  # cancelled or timed out meanwhile
            return
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)

    with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(settle)
