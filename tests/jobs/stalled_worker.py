"""A stand-in for `dialogic worker` that takes a chunk and stalls in it while renewing its lease, as a
real worker does while it scores: SIGKILL then leaves in Redis exactly what a worker dying mid-chunk
leaves. It loads neither the model nor torch, so a test can start and kill it several times cheaply.

It never sweeps: the test sweeps for it, as the live workers would, once it has killed it. A sweep of its
own could catch its chunk between SAQ's dequeue and the ACTIVE mark (or while a loaded CPU delays a
heartbeat) and re-queue it behind the test's back, leaving the test waiting for an attempt that never
comes.

    DIALOGIC_REDIS_URL=... python -m tests.jobs.stalled_worker QUEUE_NAME FUNCTION
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from redis.asyncio import Redis
from saq import Worker
from saq.queue.redis import RedisQueue
from saq.types import Context


class UnsweptQueue(RedisQueue):
    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        return []


async def stall(ctx: Context, **_: object) -> None:
    job = ctx["job"]
    while True:
        await asyncio.sleep(job.heartbeat / 3)
        await job.update()


async def main(queue_name: str, function: str) -> None:
    logging.basicConfig(level=logging.INFO)  # SAQ's account of each job, in the test's log file
    queue = UnsweptQueue(Redis.from_url(os.environ["DIALOGIC_REDIS_URL"]), name=queue_name)
    worker = Worker(queue, functions=[(function, stall)], concurrency=1)
    await worker.start()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
