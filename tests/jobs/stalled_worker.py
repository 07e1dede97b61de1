"""A stand-in for `dialogic worker` that takes a chunk and stalls in it while renewing its lease, as a
real worker does while it scores: SIGKILL then leaves in Redis exactly what a worker dying mid-chunk
leaves. It loads neither the model nor torch, so a test can start and kill it several times cheaply.

    DIALOGIC_REDIS_URL=... python -m tests.jobs.stalled_worker QUEUE_NAME FUNCTION
"""

from __future__ import annotations

import asyncio
import os
import sys

from redis.asyncio import Redis
from saq import Worker
from saq.queue.redis import RedisQueue
from saq.types import Context, PartialTimersDict


async def stall(ctx: Context, **_: object) -> None:
    job = ctx["job"]
    while True:
        await asyncio.sleep(job.heartbeat / 3)
        await job.update()


async def main(queue_name: str, function: str) -> None:
    queue = RedisQueue(Redis.from_url(os.environ["DIALOGIC_REDIS_URL"]), name=queue_name)
    # A short sweep lock: SAQ's default (60 s) would keep the test's own sweeps out for a minute.
    timers: PartialTimersDict = {"schedule": 1, "worker_info": 10, "abort": 1, "sweep": 1}
    worker = Worker(queue, functions=[(function, stall)], concurrency=1, timers=timers)
    await worker.start()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
